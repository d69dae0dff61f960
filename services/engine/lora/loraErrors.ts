/**
 * Typed LoRA failures. A LoraError is a CheckpointError (same file/reason
 * fields), so it crosses the engine-thread boundary as one
 * (engineErrorTransport keeps CheckpointError) and the worker maps it as it
 * maps a bad checkpoint: a missing file fails the task as `model_missing`, an
 * unreadable one as `invalid_input`, neither is retried. In-thread callers
 * can still tell it apart with `instanceof LoraError` and read `loraReason`.
 *
 * What is *not* an error, because Fooocus does not fail on it either: a file
 * with more than 12 tensors that match nothing (skipped entirely), a file
 * that matches no weight, a delta whose shape does not fit its weight. Those
 * are reported in the merge report (mergeLoras.ts) instead.
 */
import { CheckpointError, type CheckpointErrorReason } from '../io/engineErrors.ts';

export type LoraErrorReason =
  /** The file does not exist (or cannot be opened). */
  | 'not_found'
  /** A container this engine cannot read (a pickle without io/torchPickle.ts, an unknown extension). */
  | 'unsupported_container'
  /** A tensor layout the merge does not implement, named in the message. */
  | 'unsupported_format'
  /** A tensor is malformed: a rank-decomposition factor with an impossible shape, a non-scalar alpha. */
  | 'bad_tensor';

const CHECKPOINT_REASON: Record<LoraErrorReason, CheckpointErrorReason> = {
  not_found: 'not_found',
  unsupported_container: 'unsupported_architecture',
  unsupported_format: 'unsupported_architecture',
  bad_tensor: 'bad_shape',
};

export class LoraError extends CheckpointError {
  constructor(
    file: string,
    readonly loraReason: LoraErrorReason,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(file, CHECKPOINT_REASON[loraReason], `LoRA ${detail}`, options);
    // The name stays 'CheckpointError' on purpose: engineErrorTransport revives errors by name.
  }
}
