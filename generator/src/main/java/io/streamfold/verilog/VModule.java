package io.streamfold.verilog;

import java.util.List;

/** A Verilog module: parameters, ports and items. */
public record VModule(String name, String comment, List<Param> params, List<Port> ports, List<VItem> items) {

    public VModule {
        params = List.copyOf(params);
        ports = List.copyOf(ports);
        items = List.copyOf(items);
    }

    /** Port directions. */
    public enum Dir { INPUT, OUTPUT }

    /** {@code parameter name = value}. */
    public record Param(String name, long value) {
    }

    /** A port; an output that is assigned in an always block is a {@code reg}. */
    public record Port(Dir dir, boolean reg, boolean signed, int width, String name) {
        public static Port in(String name, int width) {
            return new Port(Dir.INPUT, false, false, width, name);
        }

        public static Port out(String name, int width) {
            return new Port(Dir.OUTPUT, false, false, width, name);
        }

        public static Port outReg(String name, int width) {
            return new Port(Dir.OUTPUT, true, false, width, name);
        }
    }
}
