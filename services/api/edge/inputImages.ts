/**
 * Input images at the API edge — the three steps a route needs, in order of use:
 * - `resolveJobImages(job, deps)`: the whole pass over a normalised GenerationJob (what the
 *   generate routes call once, before TaskStore.create).
 * - `decodeImageInput(source, deps)`: one wire image (URL or base64) → bytes (tools routes).
 * - `storeInputImage(bytes, opts)`: bytes → validated, normalised, stored `inputs/<sha256>.<ext>`.
 * Every refusal is an InputImageError (a ValidationError: FastAPI 422 detail naming the
 * field; `problem`/`status` for native problem+json, 413 for too large).
 */
export { decodeImageInput, type DecodeImageInputDeps } from './decodeImageInput.ts';
export { storeInputImage, type StoreInputImageOptions, type StoredInputImage } from './storeInputImage.ts';
export { resolveJobImages, fooocusFieldPath, type FieldPath, type ResolveJobImagesDeps } from './resolveJobImages.ts';
export { InputImageError, fieldName, type FieldLoc, type InputImageProblem } from './inputImageError.ts';
