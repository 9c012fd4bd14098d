/**
 * Event webhooks out: an org's endpoints ({@code /webhook_endpoints}), and the worker on every
 * server that delivers the outbox the {@code events} package writes, signed the Standard Webhooks
 * way, in order per endpoint and project, with back-off, through the same outbound address checks
 * as repository fetches. See docs/webhooks.md.
 */
package dev.karta.server.webhooks;
