package dev.karta.api;

import java.util.List;

/** Answer of {@code GET /agent_projects/{p}/previews}: newest push first, expired ones too. */
public record PreviewList(List<Preview> previews) {
}
