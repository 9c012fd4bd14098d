package dev.karta.server.migration;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Map;

/**
 * {@code manifest.json} of an export: the schema version the rows belong to, each table's columns,
 * row count, size and digest (in insertion order), and the release files and repositories the
 * export carries. Import checks the rows against it before writing anything, and the target
 * against it once everything is written.
 */
record Manifest(String format, String schemaVersion, String sourceDatabase, String createdAt,
                List<TableEntry> tables, Storage storage) {
    static final String FORMAT = "karta-export/1";
    static final String ENTRY = "manifest.json";

    private static final ObjectMapper JSON = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    /** One table: {@code tables/NAME.jsonl} holds its rows as lines of {@code columns}. */
    record TableEntry(String name, List<String> columns, long rows, long bytes, String digest) {
        String path() {
            return "tables/" + name + ".jsonl";
        }
    }

    /** What the export carries of the storage seam. */
    record Storage(List<ArchiveEntry> archives, List<TreeEntry> trees, List<RepoEntry> repos) {
    }

    /**
     * A stored release archive ({@code storage/archives/ARTIFACT.tar.gz}); {@code tree} is the
     * content digest its extraction must give, or null for an archive not yet built (a queued upload).
     */
    record ArchiveEntry(String artifact, long bytes, String tree) {
        String path() {
            return "storage/archives/" + artifact + ".tar.gz";
        }
    }

    /** A release tree whose archive was not stored, as a tar.gz made from the tree. */
    record TreeEntry(String digest, long bytes) {
        String path() {
            return "storage/trees/" + digest.replace("sha256:", "") + ".tar.gz";
        }
    }

    /** A project's git repository: every object reachable from its refs as one pack, and the refs. */
    record RepoEntry(String projectId, String name, String head, Map<String, String> refs, long bytes) {
        String path() {
            return "storage/repos/" + projectId + "/" + name + ".pack";
        }
    }

    byte[] toJson() throws IOException {
        return JSON.writeValueAsBytes(this);
    }

    static Manifest read(InputStream in) throws IOException {
        Manifest manifest = JSON.readValue(in, Manifest.class);
        if (!FORMAT.equals(manifest.format())) {
            throw new IOException("not a Karta export (format '" + manifest.format() + "', expected '" + FORMAT + "')");
        }
        return manifest;
    }

    TableEntry table(String name) {
        return tables.stream().filter(t -> t.name().equals(name)).findFirst().orElse(null);
    }
}
