// Output object keys: `outputs/<YYYY-MM-DD>/<taskId>-a<attempt>-<index>.<ext>`.
//
// - The date folder keeps FooocusAPI's layout (api-contract §6.1: `outputs/{date}/{file}`, so
//   `/outputs/{dir_name}/{file_name}` URLs keep working). Fooocus uses the server's local
//   date; workers in a cluster may run in any time zone, so the date is UTC, taken when the
//   image is saved.
// - The file name is attempt-scoped (reliability.md I5): a stale attempt's objects can never
//   overwrite the winner's, and whatever a losing attempt leaves behind is identifiable as an
//   orphan (`-a<n>-` not referenced by the row). Fooocus' random `{time}_{rand}` names are not
//   reproduced; `save_name` renaming is the API's presentation concern, not the key's.
// - `index` is the image's position in the task (0-based, Fooocus-API's `{job_id}-{i}`); a
//   skipped image leaves a gap rather than renumbering the rest.
export function outputKey(taskId: string, attempt: number, index: number, extension: string, savedAt: Date): string {
  return `outputs/${utcDate(savedAt)}/${taskId}-a${attempt}-${index}.${extension}`;
}

/** `YYYY-MM-DD` in UTC. */
export function utcDate(at: Date): string {
  return at.toISOString().slice(0, 10);
}

export function contentTypeForFormat(format: 'png' | 'jpeg' | 'webp'): string {
  switch (format) {
    case 'png':
      return 'image/png';
    case 'jpeg':
      return 'image/jpeg';
    case 'webp':
      return 'image/webp';
  }
}
