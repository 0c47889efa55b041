// ONNX Runtime (npm onnxruntime-node) as a long-lived server for the
// differential harness: starting node costs ~100 ms, a session ~1 ms, so one
// process answers every seed of a run.
//
// Reads one JSON request per line on stdin:
//   {"model": "m.onnx", "inputs": [{"file": "in0.bin", "dims": [1, 3]}], "out": "/tmp/x/out"}
// Inputs and outputs are raw little-endian float32 (the harness's only input
// type; int8 models are QDQ with float inputs and outputs). Output K is written
// to OUT_K.bin, and one JSON line answers:
//   {"ok": true, "outputs": [{"type": "float32", "dims": [1, 3]}]}
//   {"ok": false, "error": "..."}   (ORT refused or failed; the harness says why)
// Graph optimisations are off: the comparison is of ORT's kernels, not of its
// graph rewrites (which may reassociate float math).
const fs = require('fs');
const readline = require('readline');
const ort = require('onnxruntime-node');
ort.env.logLevel = 'fatal';  // a refused model is answered with its error, not logged

async function answer(req) {
  const session = await ort.InferenceSession.create(
      req.model, {graphOptimizationLevel: 'disabled', intraOpNumThreads: 1, interOpNumThreads: 1});
  if (req.inputs.length !== session.inputNames.length)
    throw new Error(`${req.inputs.length} inputs for ${session.inputNames.length} model inputs`);
  const feeds = {};
  session.inputNames.forEach((name, i) => {
    const buf = fs.readFileSync(req.inputs[i].file);
    const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    feeds[name] = new ort.Tensor('float32', data, req.inputs[i].dims);
  });
  const results = await session.run(feeds);
  const outputs = session.outputNames.map((name, k) => {
    const t = results[name];
    fs.writeFileSync(`${req.out}_${k}.bin`, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    return {type: t.type, dims: t.dims};
  });
  if (typeof session.release === 'function') await session.release();
  return {ok: true, outputs};
}

// Requests are answered strictly in order, one at a time.
const rl = readline.createInterface({input: process.stdin, terminal: false});
let queue = Promise.resolve();
rl.on('line', (line) => {
  queue = queue.then(async () => {
    let reply;
    try {
      reply = await answer(JSON.parse(line));
    } catch (e) {
      reply = {ok: false, error: String(e.message || e).split('\n')[0]};
    }
    process.stdout.write(JSON.stringify(reply) + '\n');
  });
});
process.stdout.write(JSON.stringify({ok: true, ready: require('onnxruntime-node/package.json').version}) + '\n');
