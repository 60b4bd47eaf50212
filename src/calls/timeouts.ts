/**
 * Every duration of the call contract, in one place, each with where it comes from.
 * Source: Microsoft Graph, "call: redirect" (https://learn.microsoft.com/graph/api/call-redirect).
 */

/** "The bot is expected to redirect the call before the call times out. The current timeout value is 15 seconds." */
export const INCOMING_WINDOW_SECONDS = 15;

/** "The range of the timeout value is between 15 and 90 seconds inclusive." */
export const REDIRECT_TIMEOUT_MIN_SECONDS = 15;
export const REDIRECT_TIMEOUT_MAX_SECONDS = 90;

/** "The default value of the timeout is 55 seconds for one target and 60 seconds for multiple targets." */
export const REDIRECT_TIMEOUT_DEFAULT_ONE_TARGET_SECONDS = 55;
export const REDIRECT_TIMEOUT_DEFAULT_SEVERAL_TARGETS_SECONDS = 60;

/** "We support up to 25 targets for the simultaneous ring." */
export const REDIRECT_MAX_TARGETS = 25;

export function defaultRedirectTimeout(targetCount: number): number {
  return targetCount > 1 ? REDIRECT_TIMEOUT_DEFAULT_SEVERAL_TARGETS_SECONDS : REDIRECT_TIMEOUT_DEFAULT_ONE_TARGET_SECONDS;
}

/** How far a forwarding chain is followed before the target counts as unreachable (Switchboard's choice). */
export const MAX_FORWARD_HOPS = 5;

/** Notification delivery retries (Part B): backoff from 1 s doubling to a 5 min cap. */
export const NOTIFICATION_RETRY_FIRST_SECONDS = 1;
export const NOTIFICATION_RETRY_CAP_SECONDS = 300;
export const NOTIFICATION_GIVE_UP_DEFAULT_SECONDS = 86_400;
