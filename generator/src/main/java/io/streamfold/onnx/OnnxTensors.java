package io.streamfold.onnx;

import ai.onnx.proto.OnnxMl.TensorProto;
import io.streamfold.data.Npy;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.ModelException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/** Decodes ONNX {@code TensorProto}s (initializers, Constant values, test data) to float64. */
final class OnnxTensors {

    private OnnxTensors() {
    }

    /** A constant tensor as ONNX stores it: dims with the batch axis, values as double. */
    record Constant(long[] dims, double[] data) {
        int size() {
            return data.length;
        }
    }

    /** Decodes an ONNX tensor to doubles; {@code what} and {@code node} name it in errors. */
    static Constant decode(TensorProto t, String what, String node) {
        long[] dims = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
        long count = 1;
        for (long d : dims) {
            if (d < 0) {
                throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, node, what + " has a negative dimension", null);
            }
            // saturates: past the limit the exact value no longer matters, and both factors are below 2^31
            count = count > Integer.MAX_VALUE || d > Integer.MAX_VALUE ? Long.MAX_VALUE : count * d;
        }
        if (count > Integer.MAX_VALUE) {
            throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, node, what + " is too large", null);
        }
        if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, node, what + " is stored in an external file",
                    "save the model with its weights inside the .onnx file");
        }
        int n = (int) count;
        double[] v;
        int type = t.getDataType();
        if (!t.getRawData().isEmpty()) {
            ByteBuffer b = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            int width = switch (type) {
                case 1, 6 -> 4; // FLOAT, INT32
                case 11, 7 -> 8; // DOUBLE, INT64
                case 10, 5 -> 2; // FLOAT16, INT16
                case 2, 3, 9 -> 1; // UINT8, INT8, BOOL
                default -> throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, node, what + " has unsupported data type " + type, null);
            };
            if (b.remaining() != (long) n * width) {
                throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, node,
                        what + " holds " + b.remaining() / width + " values, its dims " + Arrays.toString(dims) + " need " + n, null);
            }
            v = new double[n];
            for (int i = 0; i < n; i++) {
                v[i] = switch (type) {
                    case 1 -> b.getFloat(i * 4);
                    case 6 -> b.getInt(i * 4);
                    case 11 -> b.getDouble(i * 8);
                    case 7 -> b.getLong(i * 8);
                    case 10 -> half(b.getShort(i * 2));
                    case 5 -> b.getShort(i * 2);
                    case 2 -> Byte.toUnsignedInt(b.get(i));
                    default -> b.get(i);
                };
            }
        } else {
            v = switch (type) {
                case 1 -> t.getFloatDataList().stream().mapToDouble(Float::doubleValue).toArray();
                case 11 -> t.getDoubleDataList().stream().mapToDouble(Double::doubleValue).toArray();
                case 7 -> t.getInt64DataList().stream().mapToDouble(Long::doubleValue).toArray();
                case 6, 5, 3, 2, 9 -> t.getInt32DataList().stream().mapToDouble(Integer::doubleValue).toArray();
                case 10 -> t.getInt32DataList().stream().mapToDouble(h -> half((short) (int) h)).toArray();
                default -> throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, node, what + " has unsupported data type " + type, null);
            };
            if (v.length != n) {
                throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, node,
                        what + " holds " + v.length + " values, its dims " + Arrays.toString(dims) + " need " + n, null);
            }
        }
        return new Constant(dims, v);
    }

    private static double half(short h) {
        return Npy.half(h);
    }
}
