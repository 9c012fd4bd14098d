package dev.karta.api;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * The answer of {@code GET /audit_events/verify}: whether the org's audit chain and the release
 * chains of its projects are intact, how many entries were found intact before the first break,
 * and that break.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record LedgerVerification(boolean ok, long checked, Break firstBreak) {

    /**
     * The first entry that does not verify. {@code kind} is {@code audit_event} or {@code release};
     * {@code id} the event's id (as text) or the release's id; {@code project} and {@code version}
     * name a release only.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Break(String kind, String id, String project, String version, String reason) {
    }
}
