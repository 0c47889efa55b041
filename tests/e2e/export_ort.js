// Runs an ONNX model in ONNX Runtime (npm onnxruntime-node) on tensor files
// and writes each output as OUT_DIR/output_K.npy, for tests/e2e/export_ort.sh.
// Usage: node export_ort.js MODEL.onnx OUT_DIR INPUT_0.(npy|pb) [INPUT_1 ...]
//    or: node export_ort.js --samples [--optimize] MODEL.onnx OUT.npy SAMPLES.npy
// The second form runs a one-input model once per sample of SAMPLES ([N, ...]
// -> [1, ...] each) and stacks output 0 of every run into OUT.npy; with
// --optimize ORT applies its graph optimisations (QDQ -> QLinear* fusion).
// Inputs are matched to the model's inputs in order. The .pb reader handles
// the TensorProto fields the ONNX test data uses (raw_data and typed fields).
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');
ort.env.logLevel = 'error';  // deprecation warnings are not failures

// ONNX TensorProto.DataType -> [ort type, typed array, npy descr]
const TYPES = {
  1: ['float32', Float32Array, '<f4'], 2: ['uint8', Uint8Array, '|u1'], 3: ['int8', Int8Array, '|i1'],
  4: ['uint16', Uint16Array, '<u2'], 5: ['int16', Int16Array, '<i2'], 6: ['int32', Int32Array, '<i4'],
  7: ['int64', BigInt64Array, '<i8'], 9: ['bool', Uint8Array, '|b1'], 10: ['float16', Uint16Array, '<f2'],
  11: ['float64', Float64Array, '<f8'], 12: ['uint32', Uint32Array, '<u4'], 13: ['uint64', BigUint64Array, '<u8'],
};
const BY_DESCR = Object.fromEntries(Object.entries(TYPES).map(([code, t]) => [t[2], t]));
const BY_ORT = Object.fromEntries(Object.entries(TYPES).map(([code, t]) => [t[0], t]));

function readNpy(buf) {
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error('not an .npy file');
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error('Fortran-order .npy is not supported');
  const dims = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim()).filter((s) => s)
      .map(Number);
  const t = BY_DESCR[descr];
  if (!t) throw new Error(`unsupported .npy dtype ${descr}`);
  const bytes = buf.subarray(start + hlen);
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new t[1](bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + n * t[1].BYTES_PER_ELEMENT));
  return new ort.Tensor(t[0], t[0] === 'bool' ? Uint8Array.from(data) : data, dims);
}

// Protobuf wire format, just enough for TensorProto.
function readPb(buf) {
  let pos = 0;
  const varint = () => {
    let result = 0n, shift = 0n;
    for (;;) {
      const b = buf[pos++];
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
    }
  };
  const dims = [], packed = {4: [], 5: [], 7: [], 10: [], 11: []};
  let dataType = 0, raw = null;
  while (pos < buf.length) {
    const key = Number(varint()), field = key >> 3, wire = key & 7;
    if (wire === 0) {
      const v = varint();
      if (field === 1) dims.push(Number(BigInt.asIntN(64, v)));
      else if (field === 2) dataType = Number(v);
      else if (packed[field]) packed[field].push(v);
    } else if (wire === 2) {
      const len = Number(varint()), body = buf.subarray(pos, pos + len);
      pos += len;
      if (field === 9) raw = body;
      else if (field === 1) {
        let p = 0;
        const sub = body;
        while (p < sub.length) {  // packed dims
          let r = 0n, s = 0n, b;
          do { b = sub[p++]; r |= BigInt(b & 0x7f) << s; s += 7n; } while (b & 0x80);
          dims.push(Number(BigInt.asIntN(64, r)));
        }
      } else if (field === 4) for (let i = 0; i < len; i += 4) packed[4].push(body.readFloatLE(i));
      else if (field === 10) for (let i = 0; i < len; i += 8) packed[10].push(body.readDoubleLE(i));
      else if (field === 5 || field === 7 || field === 11) {
        let p = 0;
        while (p < body.length) {
          let r = 0n, s = 0n, b;
          do { b = body[p++]; r |= BigInt(b & 0x7f) << s; s += 7n; } while (b & 0x80);
          packed[field].push(r);
        }
      }
    } else if (wire === 5) {
      if (field === 4) packed[4].push(buf.readFloatLE(pos));
      pos += 4;
    } else if (wire === 1) {
      if (field === 10) packed[10].push(buf.readDoubleLE(pos));
      pos += 8;
    } else {
      throw new Error(`unsupported protobuf wire type ${wire}`);
    }
  }
  const t = TYPES[dataType];
  if (!t) throw new Error(`unsupported TensorProto data_type ${dataType}`);
  const n = dims.reduce((a, b) => a * b, 1);
  let data;
  if (raw) {
    data = new t[1](raw.buffer.slice(raw.byteOffset, raw.byteOffset + n * t[1].BYTES_PER_ELEMENT));
  } else {
    const src = dataType === 1 ? packed[4] : dataType === 11 ? packed[10] : dataType === 7 ? packed[7]
        : dataType === 12 || dataType === 13 ? packed[11] : packed[5];
    data = new t[1](n);
    for (let i = 0; i < n; ++i) {
      const v = src[i];
      if (t[1] === BigInt64Array) data[i] = BigInt.asIntN(64, v);
      else if (t[1] === BigUint64Array) data[i] = BigInt.asUintN(64, v);
      else data[i] = typeof v === 'bigint' ? Number(BigInt.asIntN(32, v)) : v;
    }
  }
  return new ort.Tensor(t[0], data, dims);
}

function writeNpy(file, tensor) {
  const t = BY_ORT[tensor.type];
  if (!t) throw new Error(`output type ${tensor.type} cannot be written as .npy`);
  const shape = tensor.dims.length === 1 ? `(${tensor.dims[0]},)` : `(${tensor.dims.join(', ')})`;
  let header = `{'descr': '${t[2]}', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';  // 64-byte aligned, ends in \n
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const data = tensor.data;
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), body]));
}

async function runSamples(args) {
  const optimize = args[0] === '--optimize';
  const [model, outFile, samplesFile] = optimize ? args.slice(1) : args;
  const session = await ort.InferenceSession.create(
      model, {graphOptimizationLevel: optimize ? 'all' : 'disabled', intraOpNumThreads: 1});
  const all = readNpy(fs.readFileSync(samplesFile));
  const n = all.dims[0], per = all.data.length / n, dims = [1, ...all.dims.slice(1)];
  let out = null;
  for (let i = 0; i < n; ++i) {
    const x = new ort.Tensor(all.type, all.data.slice(i * per, (i + 1) * per), dims);
    const y = (await session.run({[session.inputNames[0]]: x}))[session.outputNames[0]];
    if (!out) out = {type: y.type, per: y.data.length, data: new y.data.constructor(n * y.data.length),
                     dims: [n, ...y.dims.slice(1)]};
    out.data.set(y.data, i * out.per);
  }
  writeNpy(outFile, {type: out.type, dims: out.dims, data: out.data});
  console.log(`ort ${require('onnxruntime-node/package.json').version}: ran ${path.basename(model)} on ${n} ` +
              `samples${optimize ? ' (graph optimisations on)' : ''}`);
}

async function main() {
  if (process.argv[2] === '--samples') return runSamples(process.argv.slice(3));
  const [model, outDir, ...inputs] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model, {graphOptimizationLevel: 'disabled'});
  if (inputs.length !== session.inputNames.length)
    throw new Error(`${inputs.length} input files for ${session.inputNames.length} model inputs`);
  const feeds = {};
  session.inputNames.forEach((name, i) => {
    const buf = fs.readFileSync(inputs[i]);
    feeds[name] = inputs[i].endsWith('.npy') ? readNpy(buf) : readPb(buf);
  });
  const results = await session.run(feeds);
  fs.mkdirSync(outDir, {recursive: true});
  session.outputNames.forEach((name, k) => writeNpy(path.join(outDir, `output_${k}.npy`), results[name]));
  console.log(`ort ${require('onnxruntime-node/package.json').version}: ran ${path.basename(model)}, ` +
              `${session.outputNames.length} outputs`);
}

main().catch((e) => { console.error(`export_ort.js: ${e.message || e}`); process.exit(1); });
