package dev.karta.server.migration;

import dev.karta.server.build.ReleaseFiles;
import dev.karta.server.migration.Manifest.TableEntry;
import dev.karta.server.migration.Schema.Table;
import dev.karta.server.repos.RepoStore;
import dev.karta.server.store.Database;
import dev.karta.server.store.Dialect;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/**
 * The three operator commands that move an installation, each verified by digests at its end:
 * {@link #export}, {@link #importFrom} and {@link #migrateStorage}. The caller opens the databases
 * and stores (so that these run against whatever implements the storage seam) and prints a
 * {@link MigrationFailed} as the command's error.
 *
 * <p>An export is a zip: {@code manifest.json} (format, schema version, each table's columns, row
 * count, size and digest, and the storage it carries), {@code tables/NAME.jsonl} (one JSON array
 * per row, see {@link Rows}), and under {@code storage/} the release archives (or trees, as
 * tar.gz) and one pack per git repository. Secrets in the rows stay encrypted with the
 * installation's secrets key, which is never part of an export.
 */
public final class Migration {
    private final Progress progress;

    public Migration(PrintStream progress) {
        this.progress = new Progress(progress);
    }

    /**
     * Writes every table of {@code db} but the storage tables ({@code Schema.STORAGE_TABLES}), read
     * in one transaction so the rows are one consistent snapshot, and what the storage holds for
     * them, read through {@code files} and {@code repos}, into {@code file}: first under a
     * temporary name, renamed into place once complete and read back against its manifest.
     */
    public Manifest export(Database db, ReleaseFiles files, RepoStore repos, Path file)
            throws IOException, SQLException {
        Path partial = file.resolveSibling(file.getFileName() + ".partial");
        Files.deleteIfExists(partial);
        // Key digests, encrypted secrets and harness state: for the operator's eyes only.
        Files.createFile(partial, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Manifest manifest;
        try (OutputStream out = Files.newOutputStream(partial); ZipOutputStream zip = new ZipOutputStream(out)) {
            manifest = uncheckedIo(() -> db.inTransaction(h -> {
                if (db.dialect() == Dialect.POSTGRES) {
                    h.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
                }
                Schema schema = Schema.read(h.getConnection(), db.dialect());
                List<TableEntry> tables = new ArrayList<>();
                for (Table table : schema.tables()) {
                    putEntry(zip, "tables/" + table.name() + ".jsonl");
                    Writer writer = new BufferedWriter(new OutputStreamWriter(zip, StandardCharsets.UTF_8));
                    Rows.Digest digest = new Rows.Digest();
                    try {
                        Rows.read(h.getConnection(), db.dialect(), table, table.columnNames(), line -> {
                            writer.write(line);
                            writer.write('\n');
                            digest.add(line);
                        });
                        writer.flush();
                        zip.closeEntry();
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                    tables.add(new TableEntry(table.name(), table.columnNames(), digest.rows(), digest.bytes(),
                            digest.value()));
                    progress.say("table %s: %d rows (%s)", table.name(), digest.rows(), Progress.bytes(digest.bytes()));
                }
                StorageCopy.Wanted wanted = StorageCopy.Wanted.read(h);
                Manifest.Storage storage;
                try {
                    storage = new StorageCopy(progress).export(wanted, files, repos, zip);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                return new Manifest(Manifest.FORMAT, schema.version(), db.dialect().name().toLowerCase(Locale.ROOT),
                        Instant.now().toString(), tables, storage);
            }));
            zip.putNextEntry(new ZipEntry(Manifest.ENTRY));
            zip.write(manifest.toJson());
            zip.closeEntry();
        } catch (IOException | SQLException | RuntimeException e) {
            Files.deleteIfExists(partial);
            throw e;
        }
        try (ZipFile zip = new ZipFile(partial.toFile())) {
            verifyRows(zip, manifest);
        }
        Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        progress.say("exported %d tables (%d rows), %d release archives, %d release trees and %d repositories to %s; "
                        + "its rows match their digests", manifest.tables().size(),
                manifest.tables().stream().mapToLong(TableEntry::rows).sum(), manifest.storage().archives().size(),
                manifest.storage().trees().size(), manifest.storage().repos().size(), file);
        return manifest;
    }

    /**
     * Imports {@code file} into {@code db} and the storage {@code files}/{@code repos}: the rows
     * are checked against the manifest's digests before anything is written, go in in one
     * transaction (see {@link TableCopy}), then the storage, skipping what is there; at the end
     * every table's digest and every stored file and ref is checked against the manifest. Running
     * it again changes nothing.
     */
    public void importFrom(Path file, Database db, ReleaseFiles files, RepoStore repos)
            throws IOException, SQLException {
        try (ZipFile zip = new ZipFile(file.toFile())) {
            ZipEntry entry = zip.getEntry(Manifest.ENTRY);
            if (entry == null) {
                throw new MigrationFailed(file + " is not a Karta export (it has no " + Manifest.ENTRY + ")");
            }
            Manifest manifest;
            try (InputStream in = zip.getInputStream(entry)) {
                manifest = Manifest.read(in);
            }
            verifyRows(zip, manifest);
            progress.say("%s: %d tables at schema version %s, from %s; rows match their digests", file,
                    manifest.tables().size(), manifest.schemaVersion(), manifest.sourceDatabase());
            TableCopy tables = new TableCopy(progress);
            List<TableEntry> compared = tables.check(db, manifest.schemaVersion(), manifest.tables());
            if (tables.firstDifference(db, compared) == null) {
                progress.say("every table already holds the export's rows: nothing to write");
            } else {
                long rows = tables.copy(db, compared, (table, sink) -> {
                    try (BufferedReader reader = new BufferedReader(new InputStreamReader(
                            zip.getInputStream(zip.getEntry(table.path())), StandardCharsets.UTF_8))) {
                        for (String line; (line = reader.readLine()) != null; ) {
                            sink.accept(line);
                        }
                    }
                });
                progress.say("committed %d rows", rows);
            }
            new StorageCopy(progress).importFrom(manifest.storage(), zip, files, repos);
            verifyTarget(db, compared, manifest.storage(), files, repos);
        }
    }

    /**
     * Copies a single node's storage into another store ({@code toFiles}, {@code toRepos}: the
     * database's), after moving the metadata from {@code from} to {@code to} when they differ.
     */
    public void migrateStorage(Database from, Database to, ReleaseFiles fromFiles, RepoStore fromRepos,
                               ReleaseFiles toFiles, RepoStore toRepos) throws IOException, SQLException {
        List<TableEntry> compared = List.of();
        if (from != to) {
            compared = copyTables(from, to);
        }
        StorageCopy.Wanted wanted = to.withHandle(StorageCopy.Wanted::read);
        progress.say("storage: %d release trees, %d pending archives, %d projects", wanted.releases().size(),
                wanted.pendingArchives().size(), wanted.projectIds().size());
        Manifest.Storage copied = new StorageCopy(progress).copy(wanted, fromFiles, fromRepos, toFiles, toRepos);
        verifyTarget(to, compared, copied, toFiles, toRepos);
    }

    /** Copies every table of {@code from} into {@code to} as an import would, without a file between. */
    private List<TableEntry> copyTables(Database from, Database to) throws SQLException {
        Schema schema = TableCopy.schema(from);
        List<TableEntry> tables = from.inTransaction(h -> {
            List<TableEntry> entries = new ArrayList<>();
            for (Table table : schema.tables()) {
                Rows.Digest digest = Rows.digest(h.getConnection(), from.dialect(), table, table.columnNames());
                entries.add(new TableEntry(table.name(), table.columnNames(), digest.rows(), digest.bytes(),
                        digest.value()));
            }
            return entries;
        });
        TableCopy copy = new TableCopy(progress);
        List<TableEntry> compared = copy.check(to, schema.version(), tables);
        if (copy.firstDifference(to, compared) == null) {
            progress.say("every table already holds the source's rows: nothing to write");
            return compared;
        }
        // The source is read in a transaction of its own while the target's is open; nothing
        // writes to the source meanwhile (its servers are stopped), and the digests catch it if not.
        long rows = copy.copy(to, compared, (entry, sink) -> uncheckedIo(() -> from.inTransaction(h -> {
            try {
                Rows.read(h.getConnection(), from.dialect(), schema.table(entry.name()), entry.columns(), sink);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return null;
        })));
        progress.say("committed %d rows", rows);
        return compared;
    }

    @FunctionalInterface
    private interface SqlWork<T> {
        T run() throws SQLException;
    }

    /** Runs {@code work}, turning back into an IOException what a transaction callback had to wrap. */
    private static <T> T uncheckedIo(SqlWork<T> work) throws IOException, SQLException {
        try {
            return work.run();
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    private static void putEntry(ZipOutputStream zip, String name) {
        try {
            zip.putNextEntry(new ZipEntry(name));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Recomputes each table's digest in {@code zip} and compares it with the manifest's. */
    private static void verifyRows(ZipFile zip, Manifest manifest) throws IOException {
        for (TableEntry table : manifest.tables()) {
            ZipEntry entry = zip.getEntry(table.path());
            if (entry == null) {
                throw new MigrationFailed("the export is incomplete: " + table.path() + " is missing");
            }
            Rows.Digest digest = new Rows.Digest();
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(zip.getInputStream(entry),
                    StandardCharsets.UTF_8))) {
                for (String line; (line = reader.readLine()) != null; ) {
                    digest.add(line);
                }
            }
            if (!digest.value().equals(table.digest()) || digest.rows() != table.rows()) {
                throw new MigrationFailed("the export is corrupt: table " + table.name() + " has " + digest.rows()
                        + " rows with digest " + digest.value() + ", its manifest says " + table.rows()
                        + " rows with digest " + table.digest() + "; nothing was imported");
            }
        }
    }

    private void verifyTarget(Database db, List<TableEntry> tables, Manifest.Storage storage, ReleaseFiles files,
                              RepoStore repos) throws IOException, SQLException {
        String difference = new TableCopy(progress).firstDifference(db, tables);
        if (difference != null) {
            throw new MigrationFailed("verification failed: " + difference);
        }
        List<String> problems = StorageCopy.verify(storage, files, repos);
        if (!problems.isEmpty()) {
            throw new MigrationFailed("verification failed: " + String.join("; ", problems));
        }
        progress.say("verified: %d tables match their digests (%d rows); %d release archives, %d release trees "
                        + "and %d repositories (refs and objects) are in the target", tables.size(),
                tables.stream().mapToLong(TableEntry::rows).sum(), storage.archives().size(), storage.trees().size(),
                storage.repos().size());
    }
}
