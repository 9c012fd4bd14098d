package dev.karta.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code config.toml}: top-level string keys such as {@code server = "…"} and
 * {@code api_key = "…"}. Parsed by hand (basic and literal strings, comments; tables are
 * skipped) so that the CLI carries no TOML library. Written atomically with mode 0600 in a
 * folder created with mode 0700, because it holds a secret.
 */
final class ConfigFile {
    static final String SERVER = "server";
    static final String API_KEY = "api_key";

    private static final Pattern KEY_VALUE = Pattern.compile("([A-Za-z0-9_-]+)\\s*=\\s*(.*)");

    private final Path path;

    ConfigFile(Path path) {
        this.path = path;
    }

    /** {@code $XDG_CONFIG_HOME/karta/config.toml}, else {@code ~/.config/karta/config.toml}. */
    static ConfigFile locate(Environment env) {
        String xdg = env.variable("XDG_CONFIG_HOME");
        Path base = xdg != null && Path.of(xdg).isAbsolute() ? Path.of(xdg) : env.home().resolve(".config");
        return new ConfigFile(base.resolve("karta").resolve("config.toml"));
    }

    Path path() {
        return path;
    }

    /** The top-level string keys, in file order; empty when there is no file. */
    Map<String, String> read() {
        List<String> lines;
        try {
            lines = Files.readAllLines(path, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return Map.of();
        } catch (IOException e) {
            throw CliError.failed("cannot read " + path + ": " + e.getMessage());
        }
        Map<String, String> values = new LinkedHashMap<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            if (line.startsWith("[")) {
                break; // a table: nothing of ours lives below one
            }
            Matcher m = KEY_VALUE.matcher(line);
            if (!m.matches()) {
                throw invalid(i, "expected key = \"value\"");
            }
            values.put(m.group(1), parseString(m.group(2), i));
        }
        return values;
    }

    /** Replaces the file with these keys; a null value removes its key. */
    void write(Map<String, String> values) {
        StringBuilder text = new StringBuilder("# Written by `karta login`. Holds an API key: keep it private.\n");
        values.forEach((key, value) -> {
            if (value != null) {
                text.append(key).append(" = ").append(quote(value)).append('\n');
            }
        });
        try {
            Path dir = path.getParent();
            if (!Files.isDirectory(dir)) {
                Files.createDirectories(dir.getParent());
                try {
                    Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
                } catch (FileAlreadyExistsException raced) {
                    // another karta created it first
                }
            }
            Path temp = Files.createTempFile(dir, ".config", ".toml"); // mode 0600 on POSIX
            try {
                Files.writeString(temp, text, StandardCharsets.UTF_8);
                Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rw-------"));
                try {
                    Files.move(temp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(temp, path, StandardCopyOption.REPLACE_EXISTING);
                }
            } finally {
                Files.deleteIfExists(temp);
            }
        } catch (IOException e) {
            throw CliError.failed("cannot write " + path + ": " + e.getMessage());
        }
    }

    private String parseString(String raw, int line) {
        if (raw.startsWith("'")) {
            int end = raw.indexOf('\'', 1);
            if (end < 0) {
                throw invalid(line, "unterminated string");
            }
            requireOnlyComment(raw.substring(end + 1), line);
            return raw.substring(1, end);
        }
        if (!raw.startsWith("\"")) {
            throw invalid(line, "expected a quoted string");
        }
        StringBuilder value = new StringBuilder();
        for (int i = 1; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '"') {
                requireOnlyComment(raw.substring(i + 1), line);
                return value.toString();
            }
            if (c != '\\') {
                value.append(c);
                continue;
            }
            if (++i >= raw.length()) {
                break;
            }
            char escaped = raw.charAt(i);
            switch (escaped) {
                case '"', '\\' -> value.append(escaped);
                case 'n' -> value.append('\n');
                case 't' -> value.append('\t');
                case 'r' -> value.append('\r');
                case 'b' -> value.append('\b');
                case 'f' -> value.append('\f');
                case 'u' -> {
                    if (i + 4 >= raw.length()) {
                        throw invalid(line, "bad \\u escape");
                    }
                    try {
                        value.append((char) Integer.parseInt(raw.substring(i + 1, i + 5), 16));
                    } catch (NumberFormatException e) {
                        throw invalid(line, "bad \\u escape");
                    }
                    i += 4;
                }
                default -> throw invalid(line, "unknown escape \\" + escaped);
            }
        }
        throw invalid(line, "unterminated string");
    }

    private void requireOnlyComment(String rest, int line) {
        String trimmed = rest.strip();
        if (!trimmed.isEmpty() && !trimmed.startsWith("#")) {
            throw invalid(line, "unexpected text after the value");
        }
    }

    private CliError invalid(int line, String problem) {
        return CliError.failed(path + " line " + (line + 1) + ": " + problem
                + " (fix the file, or delete it and run `karta login` again)");
    }

    private static String quote(String value) {
        StringBuilder quoted = new StringBuilder("\"");
        for (char c : value.toCharArray()) {
            switch (c) {
                case '"' -> quoted.append("\\\"");
                case '\\' -> quoted.append("\\\\");
                case '\n' -> quoted.append("\\n");
                case '\t' -> quoted.append("\\t");
                case '\r' -> quoted.append("\\r");
                default -> {
                    if (c < 0x20) {
                        quoted.append(String.format("\\u%04x", (int) c));
                    } else {
                        quoted.append(c);
                    }
                }
            }
        }
        return quoted.append('"').toString();
    }
}
