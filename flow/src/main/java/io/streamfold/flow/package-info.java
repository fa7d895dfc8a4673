/**
 * The conversion flow on top of the compiler: {@link io.streamfold.flow.Converter} turns a
 * compiled design into an output folder (RTL, ROMs, testbench, run scripts, report.json,
 * report.html, plan.json) written atomically by {@link io.streamfold.flow.OutputFolder}, which never
 * replaces a folder streamfold did not write; {@link io.streamfold.flow.Cleanup} removes temporary
 * folders on failure and on SIGINT/SIGTERM;
 * {@link io.streamfold.flow.Bench} is the benchmark harness behind {@code bench/run}.
 */
package io.streamfold.flow;
