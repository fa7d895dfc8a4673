package io.streamfold.cli;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static io.streamfold.cli.CliTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DemoCommandTest {

    @Test
    void summarisesEveryExample() {
        Path examples = CliTestSupport.example("mlp_bn").getParent().getParent();
        CliTestSupport.Run r = run("demo", "--examples", examples.toString());
        assertEquals(0, r.code(), r.err());
        for (String m : DemoCommand.MODELS) {
            assertTrue(r.out().lines().anyMatch(l -> l.startsWith(m)), r.out());
        }
        assertTrue(r.out().contains("2 into preceding dense"), r.out());
    }
}
