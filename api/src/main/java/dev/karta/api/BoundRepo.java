package dev.karta.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Instant;

/**
 * The answer of {@code /agent_projects/{p}/repo} (docs/github.md): the binding, where commits
 * come from ({@code source}: {@code github} or {@code git}), the webhook to set up, and the
 * webhook secret, present only in the answers of bind and rotate-secret. {@code credentials} says
 * whether the binding has a credential of its own (a token), which is never shown.
 * {@code previewsFromForks}: pull requests from forks build previews too (docs/previews.md).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record BoundRepo(String project, RepoBinding repo, String source, boolean credentials, String webhookUrl,
                        String webhookSecret, Instant createdAt, Instant secretRotatedAt,
                        boolean previewsFromForks) {
}
