// Latency of ONNX Runtime (npm onnxruntime-node) on one thread: median and min
// of RUNS calls of session.run after warm-up. Prints one JSON line.
// Usage: node bench/ort_bench.js MODEL.onnx RUNS
const ort = require('onnxruntime-node');

function randomFeed(session) {
  // Static input shapes come from the model's metadata when available.
  const feeds = {};
  for (const name of session.inputNames) {
    const meta = session.inputMetadata ? session.inputMetadata.find((m) => m.name === name) : undefined;
    const dims = meta && meta.shape ? meta.shape.map((d) => (typeof d === 'number' ? d : 1)) : [1];
    const n = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; ++i) data[i] = Math.random() * 2 - 1;
    feeds[name] = new ort.Tensor('float32', data, dims);
  }
  return feeds;
}

async function main() {
  const [model, runsArg] = process.argv.slice(2);
  const runs = parseInt(runsArg || '1000', 10);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const feeds = randomFeed(session);
  for (let i = 0; i < Math.max(10, runs / 10); ++i) await session.run(feeds);
  const times = [];
  for (let i = 0; i < runs; ++i) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({ model, runs, median_us: times[Math.floor(runs / 2)], min_us: times[0],
                               ort_version: require('onnxruntime-node/package.json').version }));
}

main().catch((e) => { console.error(e.message || e); process.exit(1); });
