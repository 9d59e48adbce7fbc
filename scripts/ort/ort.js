// Runs an exported model in ONNX Runtime (onnxruntime-node, CPU, one
// thread), for onnx/ort_test.go and scripts/bench-onnx.sh.
//
//   node ort.js probs MODEL.onnx IMAGES N OUT.f32   probabilities of the first N images
//   node ort.js bench MODEL.onnx IMAGES SECONDS       batch 1 and 64, Go benchmark lines
//
// IMAGES is either raw little-endian float32 pixels already scaled to 0..1
// (a name ending in .f32) or an MNIST IDX image file, raw or gzipped.
'use strict';
const fs = require('fs');
const zlib = require('zlib');
const ort = require('onnxruntime-node');

const pixels = 28 * 28;

function loadImages(path) {
  let buf = fs.readFileSync(path);
  if (path.endsWith('.f32')) {
    return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  }
  if (path.endsWith('.gz')) buf = zlib.gunzipSync(buf);
  if (buf.readUInt32BE(0) !== 0x803) throw new Error(`${path}: not an IDX image file`);
  const n = buf.readUInt32BE(4);
  const out = new Float32Array(n * pixels);
  for (let i = 0; i < out.length; i++) out[i] = buf[16 + i] / 255;
  return out;
}

async function session(model) {
  return ort.InferenceSession.create(model, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
}

function batch(images, n) {
  return { image: new ort.Tensor('float32', images.slice(0, n * pixels), [n, 1, 28, 28]) };
}

async function probs(model, images, n, outPath) {
  const s = await session(model);
  const out = await s.run(batch(images, n));
  const p = out.probabilities;
  if (p.dims.length !== 2 || p.dims[0] !== n || p.dims[1] !== 10) {
    throw new Error(`probabilities have shape [${p.dims}], want [${n},10]`);
  }
  fs.writeFileSync(outPath, Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength));
}

// bench prints one line per batch size in the format of go test -bench,
// so that benchstat and scripts read both alike.
async function bench(model, images, seconds) {
  const s = await session(model);
  for (const n of [1, 64]) {
    const feeds = batch(images, n);
    for (let i = 0; i < 200; i++) await s.run(feeds); // warm up
    let iters = 0;
    const cpu0 = process.cpuUsage();
    const start = process.hrtime.bigint();
    const stop = start + BigInt(Math.round(seconds * 1e9));
    let now = start;
    while (now < stop) {
      for (let i = 0; i < 50; i++) await s.run(feeds);
      iters += 50;
      now = process.hrtime.bigint();
    }
    const ns = Number(now - start) / iters;
    const cpu = process.cpuUsage(cpu0);
    const cpuNs = ((cpu.user + cpu.system) * 1e3) / iters; // on a shared machine, closer to the cost than the wall time
    console.log(`BenchmarkORTPredict/batch=${n}\t${iters}\t${ns.toFixed(0)} ns/op\t${(n * 1e9 / ns).toFixed(0)} images/s\t${cpuNs.toFixed(0)} cpu-ns/op`);
  }
}

async function main() {
  const [mode, model, imagesPath, arg, outPath] = process.argv.slice(2);
  const images = loadImages(imagesPath);
  if (mode === 'probs') return probs(model, images, parseInt(arg, 10), outPath);
  if (mode === 'bench') return bench(model, images, parseFloat(arg || '2'));
  throw new Error('usage: node ort.js probs MODEL IMAGES N OUT.f32 | bench MODEL IMAGES SECONDS');
}

main().catch((err) => {
  console.error(`ort.js: ${err.message}`);
  process.exit(1);
});
