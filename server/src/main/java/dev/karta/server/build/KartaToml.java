package dev.karta.server.build;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The optional {@code karta.toml} at the root of an app. Known keys: {@code entry_point} and
 * {@code buildpack}, both strings; unknown keys are kept as warnings for the build log.
 */
public record KartaToml(String entryPoint, String buildpack, List<String> warnings) {
    static final String FILE = "karta.toml";
    private static final Set<String> KNOWN = Set.of("entry_point", "buildpack");
    private static final TomlMapper TOML = new TomlMapper();

    public static final KartaToml ABSENT = new KartaToml(null, null, List.of());

    /** Reads {@code karta.toml} from a tree, or {@link #ABSENT}; a broken file is a {@link BuildFailed}. */
    public static KartaToml read(Tree tree) throws IOException {
        return tree.readFile(FILE).map(KartaToml::parse).orElse(ABSENT);
    }

    static KartaToml parse(String text) {
        Map<String, Object> values;
        try {
            @SuppressWarnings("unchecked")
            Map<String, Object> parsed = TOML.readValue(text, Map.class);
            values = parsed == null ? Map.of() : parsed;
        } catch (JsonProcessingException e) {
            var at = e.getLocation();
            String where = at == null ? "" : " line " + at.getLineNr() + ", column " + at.getColumnNr();
            throw new BuildFailed(FILE + ":" + where + ": " + e.getOriginalMessage());
        }
        List<String> warnings = new ArrayList<>();
        values.keySet().stream().filter(k -> !KNOWN.contains(k)).sorted()
                .forEach(k -> warnings.add(FILE + ": unknown key '" + k + "' ignored (known: buildpack, entry_point)"));
        return new KartaToml(string(values, "entry_point"), string(values, "buildpack"), List.copyOf(warnings));
    }

    private static String string(Map<String, Object> values, String key) {
        Object value = values.get(key);
        if (value == null) {
            return null;
        }
        if (!(value instanceof String s)) {
            throw new BuildFailed(FILE + ": '" + key + "' must be a string, got " + describe(value));
        }
        return s;
    }

    private static String describe(Object value) {
        if (value instanceof Map) {
            return "a table";
        }
        if (value instanceof List) {
            return "an array";
        }
        return value.getClass().getSimpleName().toLowerCase() + " " + value;
    }
}
