package dev.karta.api;

import java.util.List;
import java.util.Map;

/**
 * The body of {@code PATCH /agent_projects/{p}/config}: vars to set (an empty string is a value)
 * and names to remove. At least one of them; a name may not be in both.
 */
public record ConfigPatch(Map<String, String> set, List<String> unset) {
    public ConfigPatch {
        set = set == null ? Map.of() : Map.copyOf(set);
        unset = unset == null ? List.of() : List.copyOf(unset);
    }
}
