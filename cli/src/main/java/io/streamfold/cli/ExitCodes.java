package io.streamfold.cli;

/** The documented exit codes (docs/architecture.md, section 7). */
public final class ExitCodes {
    public static final int OK = 0;
    public static final int VERIFY_FAILED = 1;
    public static final int USAGE = 2;
    public static final int BAD_INPUT = 3;
    public static final int INTERNAL = 4;

    private ExitCodes() {
    }
}
