package io.streamfold.json;

import static io.streamfold.json.JsonTestModels.layer;
import static io.streamfold.json.JsonTestModels.model;
import static io.streamfold.json.JsonTestModels.nested;
import static io.streamfold.json.JsonTestModels.random;
import static io.streamfold.json.JsonTestModels.transpose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.streamfold.ir.Graph;
import io.streamfold.ir.Shape;
import io.streamfold.reference.FloatInterpreter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Random;

/**
 * The same network written channels_last with Keras weight layouts and channels_first with
 * PyTorch layouts (the weights permuted here, independently of the reader) computes the same
 * outputs, the input transposed as {@link JsonModel#toGraphInput} documents.
 */
class JsonLayoutEquivalenceTest {

    @TempDir
    Path dir;

    /** Keras flat index (h, w, c) of an (H, W, C) tensor -> PyTorch flat index (c, h, w). */
    private static int chwIndex(int k, int h, int w, int c) {
        int ch = k % c;
        int spatial = k / c;
        return ch * h * w + spatial;
    }

    @Test
    void cnnWithConvBnDepthwisePoolFlattenBnDenseAgrees() {
        Random r = new Random(7);
        final int h = 6, w = 6, cin = 2, f1 = 3, mult = 2;
        double[] k1 = random(r, 3 * 3 * cin * f1); // (kh, kw, in, out)
        double[] b1 = random(r, f1);
        double[] gamma = random(r, f1, 0.5, 1.5), beta = random(r, f1), mean = random(r, f1), var = random(r, f1, 0.1, 2);
        double[] kd = random(r, 3 * 3 * f1 * mult); // (kh, kw, in, mult)
        double[] bd = random(r, f1 * mult);
        // after dw (stride 2, same): 3x3x6; maxpool 2 stride 1: 2x2x6; flatten: 24
        final int ph = 2, pw = 2, pc = f1 * mult, nflat = ph * pw * pc, units = 5;
        double[] g2 = random(r, nflat, 0.5, 1.5), be2 = random(r, nflat), m2 = random(r, nflat), v2 = random(r, nflat, 0.1, 2);
        double[] kf = random(r, nflat * units); // (in, out), in in Keras (h, w, c) order
        double[] bf = random(r, units);

        ObjectNode keras = model("channels_last", h, w, cin);
        ObjectNode c1 = layer(keras, "c1", "Conv2D");
        c1.put("filters", f1);
        c1.put("kernel_size", 3);
        c1.put("padding", "same");
        c1.set("kernel", nested(k1, 3, 3, cin, f1));
        c1.set("bias", nested(b1, f1));
        ObjectNode bn1 = layer(keras, "bn1", "BatchNormalization");
        bn1.set("gamma", nested(gamma, f1));
        bn1.set("beta", nested(beta, f1));
        bn1.set("moving_mean", nested(mean, f1));
        bn1.set("moving_variance", nested(var, f1));
        layer(keras, "relu1", "ReLU");
        ObjectNode dw = layer(keras, "dw", "DepthwiseConv2D");
        dw.put("kernel_size", 3);
        dw.put("strides", 2);
        dw.put("depth_multiplier", mult);
        dw.put("padding", "same");
        dw.set("depthwise_kernel", nested(kd, 3, 3, f1, mult));
        dw.set("bias", nested(bd, pc));
        ObjectNode mp = layer(keras, "pool", "MaxPooling2D");
        mp.put("pool_size", 2);
        mp.put("strides", 1);
        layer(keras, "flat", "Flatten");
        layer(keras, "drop", "Dropout").put("rate", 0.5);
        ObjectNode bn2 = layer(keras, "bn2", "BatchNormalization");
        bn2.set("gamma", nested(g2, nflat));
        bn2.set("beta", nested(be2, nflat));
        bn2.set("moving_mean", nested(m2, nflat));
        bn2.set("moving_variance", nested(v2, nflat));
        ObjectNode fc = layer(keras, "fc", "Dense");
        fc.put("units", units);
        fc.set("kernel", nested(kf, nflat, units));
        fc.set("bias", nested(bf, units));
        fc.put("activation", "softmax");

        ObjectNode torch = model("channels_first", cin, h, w);
        ObjectNode t1 = layer(torch, "c1", "conv2d");
        t1.put("filters", f1);
        t1.put("kernel_size", 3);
        t1.put("padding", 1);
        t1.set("weight", nested(transpose(k1, new int[] {3, 3, cin, f1}, 3, 2, 0, 1), f1, cin, 3, 3));
        t1.set("bias", nested(b1, f1));
        ObjectNode tb1 = layer(torch, "bn1", "BatchNorm2d");
        tb1.set("weight", nested(gamma, f1));
        tb1.set("bias", nested(beta, f1));
        tb1.set("running_mean", nested(mean, f1));
        tb1.set("running_var", nested(var, f1));
        tb1.put("eps", 1e-3);
        layer(torch, "relu1", "relu");
        ObjectNode tdw = layer(torch, "dw", "conv2d");
        tdw.put("filters", pc);
        tdw.put("groups", f1);
        tdw.put("kernel_size", 3);
        tdw.put("stride", 2);
        tdw.putArray("padding").add(0).add(0).add(1).add(1); // TF "same" on 6 with stride 2: 0 before, 1 after
        // (kh, kw, c, m) -> (c, m, kh, kw) = (c*mult + m, 1, kh, kw)
        tdw.set("weight", nested(transpose(kd, new int[] {3, 3, f1, mult}, 2, 3, 0, 1), pc, 1, 3, 3));
        tdw.set("bias", nested(bd, pc));
        ObjectNode tmp = layer(torch, "pool", "maxpool2d");
        tmp.put("kernel_size", 2);
        tmp.put("stride", 1);
        layer(torch, "flat", "flatten");
        double[][] bnT = new double[4][nflat];
        double[][] bnK = {g2, be2, m2, v2};
        double[] wT = new double[units * nflat];
        for (int k = 0; k < nflat; k++) {
            int j = chwIndex(k, ph, pw, pc);
            for (int p = 0; p < 4; p++) {
                bnT[p][j] = bnK[p][k];
            }
            for (int o = 0; o < units; o++) {
                wT[o * nflat + j] = kf[k * units + o];
            }
        }
        ObjectNode tb2 = layer(torch, "bn2", "BatchNorm1d");
        tb2.set("weight", nested(bnT[0], nflat));
        tb2.set("bias", nested(bnT[1], nflat));
        tb2.set("running_mean", nested(bnT[2], nflat));
        tb2.set("running_var", nested(bnT[3], nflat));
        tb2.put("eps", 1e-3);
        ObjectNode tfc = layer(torch, "fc", "Linear");
        tfc.put("units", units);
        tfc.set("weight", nested(wT, units, nflat));
        tfc.set("bias", nested(bf, units));
        layer(torch, "sm", "softmax").put("dim", 1);

        JsonModel km = JsonModelReader.readModel(JsonTestModels.write(dir, "keras.json", keras));
        Graph tg = JsonModelReader.read(JsonTestModels.write(dir, "torch.json", torch));
        assertEquals(tg.inputShape(), km.graph().inputShape());
        assertEquals(Shape.of(units), km.graph().outputShape());
        for (int trial = 0; trial < 5; trial++) {
            double[] hwc = random(r, h * w * cin);
            double[] chw = transpose(hwc, new int[] {h, w, cin}, 2, 0, 1);
            assertArrayEquals(chw, km.toGraphInput(hwc));
            double[] a = FloatInterpreter.run(km.graph(), km.toGraphInput(hwc));
            double[] b = FloatInterpreter.run(tg, chw);
            assertArrayEquals(b, a, 1e-12);
        }
    }

    @Test
    void conv1dResidualGlobalPoolAgrees() {
        Random r = new Random(11);
        final int len = 9, cin = 2, f = 4, units = 3;
        double[] k1 = random(r, 3 * cin * f); // (k, in, out)
        double[] b1 = random(r, f);
        double[] mean = random(r, f), var = random(r, f, 0.1, 2);
        double[] k2 = random(r, 3 * f * f);
        double[] b2 = random(r, f);
        double[] kf = random(r, f * units);
        double[] bf = random(r, units);

        ObjectNode keras = model("channels_last", len, cin);
        ObjectNode c1 = layer(keras, "c1", "Conv1D");
        c1.put("filters", f);
        c1.put("kernel_size", 3);
        c1.put("strides", 2);
        c1.put("padding", "same"); // in 9, stride 2: out 5, total (5-1)*2+3-9 = 2 -> 1, 1
        c1.put("activation", "relu");
        c1.set("kernel", nested(k1, 3, cin, f));
        c1.set("bias", nested(b1, f));
        ObjectNode bn = layer(keras, "bn", "BatchNormalization");
        bn.put("center", false);
        bn.put("scale", false);
        bn.set("moving_mean", nested(mean, f));
        bn.set("moving_variance", nested(var, f));
        ObjectNode c2 = layer(keras, "c2", "Conv1D");
        c2.put("filters", f);
        c2.put("kernel_size", 3);
        c2.put("padding", "same");
        c2.set("kernel", nested(k2, 3, f, f));
        c2.set("bias", nested(b2, f));
        layer(keras, "res", "Add").putArray("inputs").add("bn").add("c2");
        layer(keras, "gap", "GlobalAveragePooling1D");
        ObjectNode fc = layer(keras, "fc", "Dense");
        fc.put("units", units);
        fc.set("kernel", nested(kf, f, units));
        fc.set("bias", nested(bf, units));

        ObjectNode torch = model("channels_first", cin, len);
        ObjectNode t1 = layer(torch, "c1", "conv1d");
        t1.put("out_channels", f);
        t1.put("kernel_size", 3);
        t1.put("stride", 2);
        t1.put("padding", 1);
        t1.set("weight", nested(transpose(k1, new int[] {3, cin, f}, 2, 1, 0), f, cin, 3));
        t1.set("bias", nested(b1, f));
        layer(torch, "c1/relu", "relu");
        ObjectNode tb = layer(torch, "bn", "BatchNorm1d");
        tb.put("affine", false);
        tb.set("running_mean", nested(mean, f));
        tb.set("running_var", nested(var, f));
        tb.put("eps", 1e-3);
        ObjectNode t2 = layer(torch, "c2", "conv1d");
        t2.put("out_channels", f);
        t2.put("kernel_size", 3);
        t2.put("padding", 1);
        t2.set("weight", nested(transpose(k2, new int[] {3, f, f}, 2, 1, 0), f, f, 3));
        t2.set("bias", nested(b2, f));
        layer(torch, "res", "add").putArray("inputs").add("bn").add("c2");
        layer(torch, "gap", "global_avgpool");
        ObjectNode tfc = layer(torch, "fc", "linear");
        tfc.put("out_features", units);
        tfc.set("weight", nested(transpose(kf, new int[] {f, units}, 1, 0), units, f));
        tfc.set("bias", nested(bf, units));

        JsonModel km = JsonModelReader.readModel(JsonTestModels.write(dir, "keras.json", keras));
        Graph tg = JsonModelReader.read(JsonTestModels.write(dir, "torch.json", torch));
        for (int trial = 0; trial < 5; trial++) {
            double[] lc = random(r, len * cin);
            double[] cl = transpose(lc, new int[] {len, cin}, 1, 0);
            assertArrayEquals(FloatInterpreter.run(tg, cl), FloatInterpreter.run(km.graph(), km.toGraphInput(lc)), 1e-12);
        }
    }

    @Test
    void channelsLastFlattenFollowsKerasOrder() {
        // An identity Dense after Flatten returns the flattened vector: in Keras, the (H, W, C)
        // input in that order, whatever the IR's (C, H, W) layout does inside.
        final int h = 2, w = 3, c = 2, n = h * w * c;
        double[] eye = new double[n * n];
        for (int i = 0; i < n; i++) {
            eye[i * n + i] = 1;
        }
        ObjectNode keras = model("channels_last", h, w, c);
        layer(keras, "flat", "Flatten");
        ObjectNode fc = layer(keras, "fc", "Dense");
        fc.put("units", n);
        fc.set("kernel", nested(eye, n, n));
        fc.put("use_bias", false);
        JsonModel km = JsonModelReader.readModel(JsonTestModels.write(dir, "k.json", keras));
        double[] hwc = random(new Random(3), n);
        assertArrayEquals(hwc, FloatInterpreter.run(km.graph(), km.toGraphInput(hwc)));
    }

    @Test
    void channelsLastReshapeToAVectorIsAFlatten() {
        final int h = 2, w = 2, c = 3, n = h * w * c;
        double[] k = random(new Random(5), n * 2);
        ObjectNode keras = model("channels_last", h, w, c);
        layer(keras, "r", "Reshape").putArray("target_shape").add(n);
        layer(keras, "relu", "relu");
        ObjectNode fc = layer(keras, "fc", "Dense");
        fc.put("units", 2);
        fc.set("kernel", nested(k, n, 2));
        fc.put("use_bias", false);
        JsonModel km = JsonModelReader.readModel(JsonTestModels.write(dir, "k.json", keras));
        double[] hwc = random(new Random(6), n);
        double[] expect = new double[2];
        for (int i = 0; i < n; i++) {
            for (int o = 0; o < 2; o++) {
                expect[o] += k[i * 2 + o] * Math.max(hwc[i], 0);
            }
        }
        assertArrayEquals(expect, FloatInterpreter.run(km.graph(), km.toGraphInput(hwc)), 1e-12);
    }

    @Test
    void batchNormEpsDefaultsDifferByNaming() {
        // One feature, mean 0, variance 0, gamma 1, beta 0: y = x / sqrt(eps).
        String keras = """
                {"format": "streamfold-json", "version": 1, "input": {"shape": [1]},
                 "layers": [{"name": "bn", "type": "batchnorm", "gamma": [1], "beta": [0], "moving_mean": [0], "moving_variance": [0]}]}
                """;
        String torch = """
                {"format": "streamfold-json", "version": 1, "input": {"shape": [1]},
                 "layers": [{"name": "bn", "type": "batchnorm", "weight": [1], "bias": [0], "running_mean": [0], "running_var": [0]}]}
                """;
        double yk = FloatInterpreter.run(JsonModelReader.parse(keras, dir), new double[] {1})[0];
        double yt = FloatInterpreter.run(JsonModelReader.parse(torch, dir), new double[] {1})[0];
        assertEquals(31.622776601683793, yk, 1e-9, "Keras epsilon 1e-3");
        assertEquals(316.22776601683796, yt, 1e-9, "PyTorch eps 1e-5");

        // gamma 2, beta 1, mean 3, var 4, x = 5: 2 * (5 - 3) / sqrt(4 + eps) + 1
        String k2 = """
                {"format": "streamfold-json", "version": 1, "input": {"shape": [1]},
                 "layers": [{"name": "bn", "type": "batchnorm", "gamma": [2], "beta": [1], "moving_mean": [3], "moving_variance": [4]}]}
                """;
        assertEquals(1 + 4 / Math.sqrt(4.001), FloatInterpreter.run(JsonModelReader.parse(k2, dir), new double[] {5})[0], 1e-15);
    }
}
