package dev.karta.api;

import java.time.Instant;

/**
 * One entry of the append-only audit log. {@code hash} chains it to the org's previous event
 * ({@code prevHash}); {@code releaseHash} is set on a project's deletion only: the hash of the
 * deleted project's last release.
 */
public record AuditEvent(
        long id,
        String actorKeyId,
        String action,
        String resource,
        Instant time,
        String requestId,
        String remoteIp,
        String releaseHash,
        String prevHash,
        String hash) {
}
