// The SSRF-safe fetcher for user-supplied URLs (image inputs, webhook URLs): see
// createUrlFetcher.ts for the rules and addressPolicy.ts for the refused ranges.
export {
  createUrlFetcher,
  dnsResolver,
  DEFAULT_FETCH_TIMEOUT_MS,
  DEFAULT_MAX_FETCH_BYTES,
  DEFAULT_MAX_REDIRECTS,
  type CallOptions,
  type FetchedBody,
  type GetOptions,
  type HostResolver,
  type PostOptions,
  type PostResponse,
  type ResolvedAddress,
  type UrlFetcher,
  type UrlFetcherOptions,
} from './createUrlFetcher.ts';
export { refusedReason, parseCidr, parseIp, type AddressPolicy } from './addressPolicy.ts';
export { UrlFetchError, isUrlFetchError, redactUrl, type UrlFetchErrorCode } from './urlFetchError.ts';
