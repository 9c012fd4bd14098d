package dev.karta.api;

import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * The answer to {@code PATCH /agent_projects/{p}/config}: the config after the change, names only
 * (every value null), the version the project serves now, and {@code newRelease}: the release the
 * change made and activated, or null when it made none (no release yet, or nothing changed).
 */
public record ConfigUpdate(String project, String release, Map<String, String> vars, String newRelease) {
    public ConfigUpdate {
        vars = Collections.unmodifiableMap(new TreeMap<>(vars == null ? Map.of() : vars));
    }
}
