package dev.karta.api;

import java.time.Instant;

/** One entry of the append-only audit log. */
public record AuditEvent(
        long id,
        String actorKeyId,
        String action,
        String resource,
        Instant time,
        String requestId,
        String remoteIp) {
}
