package io.streamfold.ir;

/**
 * An error in the user's input: a model, a data file or a setting. It names the file and the node
 * it is about, so that the CLI can print it as one line and exit with the bad-input code.
 *
 * <p>Passes throw it without a file; the caller that knows the file adds it with {@link #inFile}.
 */
public final class ModelException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final Diagnostic id;
    private final String file;
    private final String node;
    private final String reason;
    private final String hint;

    public ModelException(Diagnostic id, String file, String node, String reason, String hint) {
        super(format(file, node, reason, hint));
        this.id = id;
        this.file = file;
        this.node = node;
        this.reason = reason;
        this.hint = hint;
    }

    public ModelException(Diagnostic id, String node, String reason) {
        this(id, null, node, reason, null);
    }

    public ModelException(Diagnostic id, String node, String reason, String hint) {
        this(id, null, node, reason, hint);
    }

    public Diagnostic id() {
        return id;
    }

    public String file() {
        return file;
    }

    public String node() {
        return node;
    }

    public String reason() {
        return reason;
    }

    public String hint() {
        return hint;
    }

    /** The same error, attributed to a file (keeps a file that is already set). */
    public ModelException inFile(String f) {
        if (file != null) {
            return this;
        }
        ModelException e = new ModelException(id, f, node, reason, hint);
        e.setStackTrace(getStackTrace());
        return e;
    }

    /** The same error, attributed to a node (keeps a node that is already set). */
    public ModelException inNode(String n) {
        if (node != null) {
            return this;
        }
        ModelException e = new ModelException(id, file, n, reason, hint);
        e.setStackTrace(getStackTrace());
        return e;
    }

    /** The one line the CLI prints: {@code error: <file>: <node>: <what is wrong> (<hint>)}. */
    public String toLine() {
        return "error: " + getMessage();
    }

    private static String format(String file, String node, String reason, String hint) {
        StringBuilder sb = new StringBuilder();
        if (file != null) {
            sb.append(file).append(": ");
        }
        if (node != null) {
            sb.append(node).append(": ");
        }
        sb.append(reason);
        if (hint != null && !hint.isEmpty()) {
            sb.append(" (").append(hint).append(')');
        }
        return sb.toString();
    }
}
