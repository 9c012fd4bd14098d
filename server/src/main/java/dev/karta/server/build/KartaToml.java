package dev.karta.server.build;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The optional {@code karta.toml} at the root of an app. Known keys: {@code entry_point} and
 * {@code buildpack}, both strings, and the table {@code [build]} with {@code env}, an array of
 * config var names the build's child process gets ({@code env = ["NPM_TOKEN"]}); unknown keys are
 * kept as warnings for the build log.
 */
public record KartaToml(String entryPoint, String buildpack, List<String> buildEnv, List<String> warnings) {
    static final String FILE = "karta.toml";
    private static final Set<String> KNOWN = Set.of("entry_point", "buildpack", "build");
    private static final Set<String> KNOWN_BUILD = Set.of("env");
    /** The config var name rule (see {@code config.ConfigRules}). */
    private static final Pattern NAME = Pattern.compile("[A-Z_][A-Z0-9_]{0,63}");
    private static final TomlMapper TOML = new TomlMapper();

    public static final KartaToml ABSENT = new KartaToml(null, null, List.of(), List.of());

    public KartaToml {
        buildEnv = List.copyOf(buildEnv);
        warnings = List.copyOf(warnings);
    }

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
                .forEach(k -> warnings.add(FILE + ": unknown key '" + k + "' ignored (known: build, buildpack, "
                        + "entry_point)"));
        return new KartaToml(string(values, "entry_point"), string(values, "buildpack"), buildEnv(values, warnings),
                warnings);
    }

    /** {@code [build] env}: config var names, each valid, in the order given, without repeats. */
    private static List<String> buildEnv(Map<String, Object> values, List<String> warnings) {
        Object build = values.get("build");
        if (build == null) {
            return List.of();
        }
        if (!(build instanceof Map<?, ?> table)) {
            throw new BuildFailed(FILE + ": 'build' must be a table ([build]), got " + describe(build));
        }
        table.keySet().stream().map(String::valueOf).filter(k -> !KNOWN_BUILD.contains(k)).sorted()
                .forEach(k -> warnings.add(FILE + ": unknown key 'build." + k + "' ignored (known: build.env)"));
        Object env = table.get("env");
        if (env == null) {
            return List.of();
        }
        if (!(env instanceof List<?> names)) {
            throw new BuildFailed(FILE + ": 'build.env' must be an array of config var names, got " + describe(env));
        }
        Set<String> out = new LinkedHashSet<>();
        for (Object name : names) {
            if (!(name instanceof String s) || !NAME.matcher(s).matches()) {
                throw new BuildFailed(FILE + ": 'build.env' holds " + (name instanceof String ? "'" + name + "'"
                        : describe(name)) + ", which is not a config var name (A-Z, 0-9 and _, at most 64)");
            }
            out.add(s);
        }
        return List.copyOf(out);
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
