/** Times, sizes and statuses in plain words. */

export function ago(iso: string | null, now: number): string {
  if (iso === null) return 'unknown time';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function clock(iso: string | null): string {
  return iso === null ? 'unknown time' : new Date(iso).toLocaleString();
}

export function size(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / 1024 / 1024).toFixed(2)} MB`;
}

export function requestStatus(r: { status: string; error: string | null } | null): string {
  if (r === null) return 'No snapshot requested yet';
  switch (r.status) {
    case 'uploaded':
      return 'Last snapshot uploaded';
    case 'expired':
      return 'Last request expired before the camera could upload it';
    case 'rejected':
      return `Last request refused by the camera: ${r.error ?? 'no reason given'}`;
    default:
      return `Last snapshot failed: ${r.error ?? 'no reason given'}`;
  }
}
