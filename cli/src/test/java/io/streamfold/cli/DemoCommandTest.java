package io.streamfold.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static io.streamfold.cli.CliTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DemoCommandTest {

    @TempDir
    Path tmp;

    @Test
    void summarisesEveryExample() {
        Path examples = CliTestSupport.example("mlp_bn").getParent().getParent();
        CliTestSupport.Run r = run("demo", "--examples", examples.toString(), "-o", tmp.toString());
        assertEquals(0, r.code(), r.err());
        for (String m : DemoCommand.MODELS) {
            assertTrue(r.out().lines().anyMatch(l -> l.startsWith(m)), r.out());
        }
        assertTrue(r.out().contains("2 into preceding dense"), r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("mlp_bn") && l.contains("PASS")), r.out());
        assertTrue(java.nio.file.Files.exists(tmp.resolve("mlp_bn").resolve("mlp_bn.v")));
    }
}
