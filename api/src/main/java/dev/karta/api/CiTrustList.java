package dev.karta.api;

import java.util.List;

/** Answer of {@code GET /agent_projects/{p}/ci_trusts}: oldest first. */
public record CiTrustList(List<CiTrust> ciTrusts) {
}
