package dev.karta.api;

import java.time.Instant;

/**
 * A preview of a pull request (docs/previews.md): {@code name} {@code pr-42}, its stable
 * {@code url} (sessions are created under {@code {url}/sessions}), {@code status} ({@code building},
 * {@code ready}, {@code failed} or {@code expired}), the preview release new sessions get
 * ({@code release}, {@code pr-42.2}, null before the first build succeeds), the commit of the
 * latest push ({@code commit_sha}), when it expires without a new push ({@code expires_at}), and
 * once expired when and why ({@code expired_at}, {@code expire_reason}: {@code closed},
 * {@code ttl}, {@code cap}, {@code deleted}). {@code deploy_id} is its latest build.
 */
public record Preview(String name, String project, String url, String status, String release, String commitSha,
                      Instant expiresAt, Integer prNumber, String origin, String deployId, String error,
                      Instant createdAt, Instant lastPushAt, Instant expiredAt, String expireReason) {
}
