// Decoding of the binary frames body (`FVF1`, see the HTTP contract). Pure: runs in Node too.

export const MAGIC = 'FVF1';
export const HEADER_BYTES = 16;
// The per-frame info fields are declared once, in tb_fitviz/summary_format.py
// (FRAME_INFO_FIELDS); GET config hands them over and the tab calls configureInfoFields first.
let FIELDS = null;

/** Sets the names of the per-frame info fields, in order (from GET config). */
export function configureInfoFields(names) {
  if (!Array.isArray(names) || !names.length || !names.every((n) => typeof n === 'string')) {
    throw new TypeError('frame_info_fields: expected a list of names');
  }
  FIELDS = [...names];
}

/** The names of the per-frame info fields, in order. */
export function infoFields() {
  if (!FIELDS) throw new Error('frame info fields not configured (GET config first)');
  return FIELDS;
}

/**
 * Decodes a GET frames body.
 * @param {ArrayBuffer} buffer
 * @returns {{count:number, sampleSize:number, channels:number, steps:Float64Array,
 *            info:Float64Array, values:Float32Array}}
 *   `info` holds infoFields().length values per frame; `values` is frame-major, channel-major
 *   (frame 0 channel 0, frame 0 channel 1, ..., frame 1 channel 0, ...). Views, not copies.
 */
export function decodeFrames(buffer) {
  if (!(buffer instanceof ArrayBuffer)) {
    throw new TypeError('decodeFrames: expected an ArrayBuffer');
  }
  if (buffer.byteLength < HEADER_BYTES) {
    throw new Error(`frames body: ${buffer.byteLength} bytes, shorter than the ${HEADER_BYTES}-byte header`);
  }
  const view = new DataView(buffer);
  const magic = String.fromCharCode(view.getUint8(0), view.getUint8(1), view.getUint8(2), view.getUint8(3));
  if (magic !== MAGIC) {
    throw new Error(`frames body: bad magic ${JSON.stringify(magic)}, expected "${MAGIC}"`);
  }
  const count = view.getUint32(4, true);
  const sampleSize = view.getUint32(8, true);
  const channels = view.getUint32(12, true);
  const fields = infoFields().length;
  const expected = frameBodyBytes(count, sampleSize, channels);
  if (buffer.byteLength !== expected) {
    throw new Error(`frames body: ${buffer.byteLength} bytes, expected ${expected} for ` +
      `${count} frames x ${channels} channels x ${sampleSize} points`);
  }
  let offset = HEADER_BYTES;
  const steps = littleEndianFloat64(buffer, offset, count);
  offset += 8 * count;
  const info = littleEndianFloat64(buffer, offset, count * fields);
  offset += 8 * count * fields;
  const values = littleEndianFloat32(buffer, offset, count * channels * sampleSize);
  return {count, sampleSize, channels, steps, info, values};
}

/** Bytes of a body of `count` frames. */
export function frameBodyBytes(count, sampleSize, channels = 2) {
  return HEADER_BYTES + 8 * count * (1 + infoFields().length) + 4 * count * channels * sampleSize;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function littleEndianFloat64(buffer, offset, length) {
  if (LITTLE_ENDIAN) return new Float64Array(buffer, offset, length);
  const view = new DataView(buffer, offset, length * 8);
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) out[i] = view.getFloat64(8 * i, true);
  return out;
}

function littleEndianFloat32(buffer, offset, length) {
  if (LITTLE_ENDIAN) return new Float32Array(buffer, offset, length);
  const view = new DataView(buffer, offset, length * 4);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}
