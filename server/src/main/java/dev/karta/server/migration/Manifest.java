package dev.karta.server.migration;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.karta.server.repos.RepoStore;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.eclipse.jgit.lib.Constants;
import org.eclipse.jgit.lib.Repository;

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

    private static final Pattern ARTIFACT = Pattern.compile("[0-9a-f]{64}");
    private static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");
    private static final Pattern ID = Pattern.compile("[a-z]{2,8}_[0-9a-z]{1,64}");
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_]{1,128}");
    private static final Pattern OBJECT = Pattern.compile("[0-9a-f]{40}");

    /**
     * Reads and checks a manifest: its format, and every name it gives that becomes part of a path,
     * a query or a ref (table and column names, artifacts, digests, project ids, refs).
     */
    static Manifest read(InputStream in) throws IOException {
        Manifest manifest = JSON.readValue(in, Manifest.class);
        if (!FORMAT.equals(manifest.format())) {
            throw new MigrationFailed("not a Karta export (format '" + manifest.format() + "', expected '" + FORMAT
                    + "')");
        }
        if (manifest.schemaVersion() == null || manifest.tables() == null || manifest.storage() == null
                || manifest.storage().archives() == null || manifest.storage().trees() == null
                || manifest.storage().repos() == null) {
            throw new MigrationFailed("the export's manifest is incomplete");
        }
        for (TableEntry table : manifest.tables()) {
            check(NAME, table.name(), "table name");
            if (table.columns() == null || table.columns().isEmpty() || table.digest() == null) {
                throw new MigrationFailed("the export's manifest is incomplete for table " + table.name());
            }
            table.columns().forEach(column -> check(NAME, column, "column name"));
        }
        for (ArchiveEntry archive : manifest.storage().archives()) {
            check(ARTIFACT, archive.artifact(), "archive");
            if (archive.tree() != null) {
                check(DIGEST, archive.tree(), "tree digest");
            }
        }
        manifest.storage().trees().forEach(tree -> check(DIGEST, tree.digest(), "tree digest"));
        for (RepoEntry repo : manifest.storage().repos()) {
            check(ID, repo.projectId(), "project id");
            if (!RepoStore.PUSHED.equals(repo.name()) || repo.refs() == null) {
                throw new MigrationFailed("the export's manifest names an unknown repository '" + repo.name() + "'");
            }
            repo.refs().forEach((ref, id) -> {
                if (!Repository.isValidRefName(ref) || !ref.startsWith(Constants.R_REFS)) {
                    throw new MigrationFailed("the export's manifest names an invalid ref '" + ref + "'");
                }
                check(OBJECT, id, "object id");
            });
        }
        return manifest;
    }

    private static void check(Pattern pattern, String value, String what) {
        if (value == null || !pattern.matcher(value).matches()) {
            throw new MigrationFailed("the export's manifest names an invalid " + what + " '" + value + "'");
        }
    }

    TableEntry table(String name) {
        return tables.stream().filter(t -> t.name().equals(name)).findFirst().orElse(null);
    }
}
