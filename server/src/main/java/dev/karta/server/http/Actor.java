package dev.karta.server.http;

/**
 * Who performs a change: the org and key behind the request, with the request id and remote
 * address recorded in the audit log. {@code keyId} is null for operator commands run on the host.
 */
public record Actor(String orgId, String keyId, String requestId, String remoteIp) {
}
