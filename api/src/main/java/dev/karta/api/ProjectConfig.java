package dev.karta.api;

import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * A project's config vars, sorted by name: {@code GET /agent_projects/{p}/config}. Values are null
 * unless they were asked for ({@code ?reveal=true}, admin keys only). {@code release} is the
 * version the project serves (whose config this is), null before its first release.
 */
public record ProjectConfig(String project, String release, Map<String, String> vars) {
    public ProjectConfig {
        vars = Collections.unmodifiableMap(new TreeMap<>(vars == null ? Map.of() : vars));
    }
}
