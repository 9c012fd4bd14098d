package dev.karta.server.migration;

import static dev.karta.server.migration.Installation.answers;
import static dev.karta.server.migration.Installation.args;
import static dev.karta.server.migration.Installation.karta;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.karta.server.Config;
import dev.karta.server.store.Database;
import dev.karta.server.store.Digests;
import dev.karta.server.testkit.PostgresDatabase;
import dev.karta.server.testkit.PostgresExtension;
import dev.karta.server.testkit.TestServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Enumeration;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code karta server export} and {@code import} move a whole installation between SQLite and
 * PostgreSQL and back: rows, release files, repositories, and keys that still work; a second
 * import changes nothing; a corrupted export or one of another schema version is refused.
 */
@ExtendWith(PostgresExtension.class)
class ExportImportTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /** The source: a SQLite installation with projects, releases, a rollback, a push, keys, a session and a binding. */
    private record Source(String admin, String writer, String pushed, String session, String webhookSecret,
                          String answers) {
    }

    private Source makeSource(Path dataDir) {
        return makeSource(TestServer.config(dataDir, TestServer.randomKey()));
    }

    private Source makeSource(Config config) {
        String admin = config.bootstrapKey();
        try (TestServer server = TestServer.start(config)) {
            // Events of every change below go to the outbox (nothing answers at this address).
            TestServer.Response endpoint = server.post("/webhook_endpoints", admin,
                    "{\"url\":\"https://203.0.113.10/hook\",\"events\":[\"*\"]}");
            assertThat(endpoint.status()).as(endpoint.body()).isEqualTo(201);
            String writer = server.createKey("ci", "write");
            Installation.publish(server, admin, "shop", "one");
            Installation.publish(server, admin, "shop", "two");
            assertThat(server.post("/agent_projects/shop/rollback", admin, "{\"to\":\"v1\"}").status()).isEqualTo(200);
            String pushed = Installation.push(server, writer, dir.resolve("work"), "tool");
            TestServer.Response session = server.post("/v1/projects/shop/sessions", writer, "{}");
            assertThat(session.status()).as(session.body()).isEqualTo(201);
            TestServer.Response bound = server.send(server.request("/agent_projects/shop/repo", admin)
                    .header("Content-Type", "application/json")
                    .PUT(HttpRequest.BodyPublishers.ofString("{\"url\":\"https://github.com/acme/shop\"}")));
            assertThat(bound.status()).as(bound.body()).isEqualTo(200);
            return new Source(admin, writer, pushed, session.json().get("id").asText(),
                    bound.json().get("webhook_secret").asText(), answers(server, admin, "shop", "tool"));
        }
    }

    @Test
    void round_trip_sqlite_to_postgres_to_sqlite_keeps_rows_files_repositories_and_keys(PostgresDatabase postgres)
            throws Exception {
        Path a = dir.resolve("a");
        Source source = makeSource(a);
        Path export = dir.resolve("karta-a.zip");
        Installation.Command exported = karta(args(a, null, "export", "--to", export.toString())).ok();
        assertThat(exported.err()).contains("table projects: 2 rows").contains("repository ");

        Path b = dir.resolve("b");
        Installation.copy(a.resolve("secrets.key"), b.resolve("secrets.key"));
        Installation.Command imported = karta(args(b, postgres.url(), "import", export.toString())).ok();
        assertThat(imported.err()).contains("table releases: 3 rows").contains("verified: ");

        // PostgreSQL's default storage is the database: the import wrote the files there, through it.
        assertThat(count(postgres.url(), "blobs")).isPositive();
        assertThat(count(postgres.url(), "git_repositories")).isEqualTo(1);
        String again = karta(args(b, postgres.url(), "import", export.toString())).ok().err();
        assertThat(again).contains("nothing to write").contains("already there").contains("verified: ")
                .doesNotContain("stored (");

        Path export2 = dir.resolve("karta-b.zip");
        String answersOnPostgres;
        try (TestServer server = Installation.start(b, postgres.url(), null)) {
            assertThat(answers(server, source.admin(), "shop", "tool")).isEqualTo(source.answers());
            sameBehaviour(server, source);
            answersOnPostgres = answers(server, source.admin(), "shop", "tool");
        }
        karta(args(b, postgres.url(), "export", "--to", export2.toString())).ok();

        Path c = dir.resolve("c");
        Installation.copy(a.resolve("secrets.key"), c.resolve("secrets.key"));
        karta(args(c, null, "import", export2.toString())).ok();
        try (TestServer server = Installation.start(c, null, null)) {
            assertThat(answers(server, source.admin(), "shop", "tool")).isEqualTo(answersOnPostgres);
            sameBehaviour(server, source);
        }
    }

    @Test
    void an_export_of_database_storage_carries_each_file_once_and_imports_into_sqlite(PostgresDatabase postgres)
            throws Exception {
        Path a = dir.resolve("a");
        Source source = makeSource(TestServer.config(a, TestServer.randomKey()).toBuilder()
                .databaseUrl(postgres.url()).storage(Config.Storage.DATABASE).build());
        assertThat(count(postgres.url(), "blobs")).isPositive();
        Path export = dir.resolve("karta-a.zip");

        String exported = karta(args(a, postgres.url(), "export", "--to", export.toString())).ok().err();

        assertThat(exported).contains("release archive ").contains("repository ").doesNotContain("table blobs");
        try (ZipFile zip = new ZipFile(export.toFile())) {
            JsonNode manifest = JSON.readTree(zip.getInputStream(zip.getEntry("manifest.json")));
            for (JsonNode table : manifest.get("tables")) {
                assertThat(Schema.STORAGE_TABLES).doesNotContain(table.get("name").asText());
            }
            assertThat(zip.stream().map(ZipEntry::getName).filter(n -> n.startsWith("tables/")))
                    .contains("tables/releases.jsonl")
                    .noneMatch(n -> Schema.STORAGE_TABLES.contains(n.substring("tables/".length(),
                            n.length() - ".jsonl".length())));
            // Three releases (two uploads to shop, the push to tool), each archive once.
            assertThat(manifest.get("storage").get("archives")).hasSize(3);
            assertThat(manifest.get("storage").get("repos")).hasSize(1);
        }

        Path b = dir.resolve("b");
        Installation.copy(a.resolve("secrets.key"), b.resolve("secrets.key"));
        String imported = karta(args(b, null, "import", export.toString())).ok().err();
        assertThat(imported).contains("verified: ").contains("3 release archives").contains("1 repositories");
        try (TestServer server = Installation.start(b, null, null)) {
            assertThat(answers(server, source.admin(), "shop", "tool")).isEqualTo(source.answers());
            sameBehaviour(server, source);
        }
    }

    @Test
    void an_import_into_postgres_with_local_storage_keeps_the_files_in_the_data_dir(PostgresDatabase postgres)
            throws Exception {
        Path a = dir.resolve("a");
        Source source = makeSource(a);
        Path export = dir.resolve("karta-a.zip");
        karta(args(a, null, "export", "--to", export.toString())).ok();

        Path b = dir.resolve("b");
        Installation.copy(a.resolve("secrets.key"), b.resolve("secrets.key"));
        karta(args(b, postgres.url(), "--storage", "local", "import", export.toString())).ok();

        assertThat(count(postgres.url(), "blobs")).isZero();
        assertThat(count(postgres.url(), "git_repositories")).isZero();
        try (TestServer server = Installation.start(b, postgres.url(), Config.Storage.LOCAL)) {
            sameBehaviour(server, source);
        }
    }

    private static long count(String url, String table) {
        try (Database db = Database.open(url)) {
            return db.withHandle(h -> h.select("SELECT count(*) FROM " + table).mapTo(Long.class).one());
        }
    }

    /** Keys of the source work, its session and webhook secret are there, and its repository clones. */
    private void sameBehaviour(TestServer server, Source source) {
        assertThat(server.get("/whoami", source.writer()).status()).isEqualTo(200);
        assertThat(server.get("/v1/projects/shop/sessions/" + source.session(), source.writer()).status())
                .isEqualTo(200);
        String ping = "{\"zen\":\"hi\",\"repository\":{\"full_name\":\"acme/shop\"}}";
        TestServer.Response delivered = server.send(server.request("/webhooks/github", null)
                .header("Content-Type", "application/json")
                .header("X-GitHub-Event", "ping")
                .header("X-GitHub-Delivery", java.util.UUID.randomUUID().toString())
                .header("X-Hub-Signature-256", "sha256=" + hmac(source.webhookSecret(), ping))
                .POST(HttpRequest.BodyPublishers.ofString(ping)));
        assertThat(delivered.status()).as(delivered.body()).isEqualTo(200);
        assertThat(Installation.cloneHead(server, source.writer(), dir.resolve("work"), "tool"))
                .isEqualTo(source.pushed());
        // Rolling back needs the release's tree in the storage.
        TestServer.Response rollback = server.post("/agent_projects/shop/rollback", source.admin(), "{\"to\":\"v2\"}");
        assertThat(rollback.status()).as(rollback.body()).isEqualTo(200);
        assertThat(server.post("/agent_projects/shop/rollback", source.admin(), "{\"to\":\"v1\"}").status())
                .isEqualTo(200);
        // The outbox came along, and takes new events (serial ids continue after the imported ones).
        JsonNode endpoints = server.get("/webhook_endpoints", source.admin()).json().get("webhook_endpoints");
        assertThat(endpoints).hasSize(1);
        JsonNode deliveries = server.get("/webhook_endpoints/" + endpoints.get(0).get("id").asText() + "/deliveries",
                source.admin()).json().get("deliveries");
        assertThat(deliveries.findValuesAsText("event_type")).contains("key.created", "release.rolled_back");
    }

    private static String hmac(String secret, String body) {
        try {
            javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
            mac.init(new javax.crypto.spec.SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            return Digests.hex(mac.doFinal(body.getBytes(StandardCharsets.UTF_8)));
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void an_export_with_an_edited_row_is_refused_by_its_digest_and_nothing_is_written(PostgresDatabase postgres)
            throws Exception {
        Path a = dir.resolve("a");
        String admin = TestServer.randomKey();
        try (TestServer server = TestServer.start(TestServer.config(a, admin))) {
            Installation.publish(server, admin, "shop", "one");
        }
        Path export = dir.resolve("export.zip");
        karta(args(a, null, "export", "--to", export.toString())).ok();
        Path corrupt = dir.resolve("corrupt.zip");
        rewrite(export, corrupt, "tables/projects.jsonl", text -> text.replace("\"shop\"", "\"shoq\""));

        Installation.Command refused = karta(args(dir.resolve("b"), postgres.url(), "import", corrupt.toString()));

        assertThat(refused.exit()).isNotZero();
        assertThat(refused.err()).contains("table projects").contains("corrupt").contains("nothing was imported");
        try (Database db = Database.open(postgres.url())) {
            long projects = db.withHandle(h -> h.select("SELECT count(*) FROM projects").mapTo(Long.class).one());
            assertThat(projects).isZero();
        }
    }

    @Test
    void an_export_of_another_schema_version_is_refused(PostgresDatabase postgres) throws Exception {
        Path a = dir.resolve("a");
        try (TestServer server = TestServer.start(TestServer.config(a, TestServer.randomKey()))) {
            assertThat(server.port()).isPositive();
        }
        Path export = dir.resolve("export.zip");
        karta(args(a, null, "export", "--to", export.toString())).ok();
        Path older = dir.resolve("older.zip");
        rewrite(export, older, "manifest.json", text -> {
            try {
                ObjectNode manifest = (ObjectNode) JSON.readTree(text);
                manifest.put("schema_version", "2");
                return manifest.toString();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });

        Installation.Command refused = karta(args(dir.resolve("b"), postgres.url(), "import", older.toString()));

        assertThat(refused.exit()).isNotZero();
        assertThat(refused.err()).contains("schema version 2").contains("same version of karta");
    }

    @Test
    void an_import_whose_rows_clash_with_the_target_is_rolled_back_naming_the_table(PostgresDatabase postgres)
            throws Exception {
        Path a = dir.resolve("a");
        try (TestServer server = TestServer.start(TestServer.config(a, TestServer.randomKey()))) {
            assertThat(server.port()).isPositive();
        }
        Path export = dir.resolve("export.zip");
        karta(args(a, null, "export", "--to", export.toString())).ok();
        // A server started on the target first bootstrapped an org of its own.
        try (TestServer server = Installation.start(dir.resolve("b"), postgres.url(), Config.Storage.LOCAL)) {
            assertThat(server.port()).isPositive();
        }

        Installation.Command refused = karta(args(dir.resolve("b"), postgres.url(), "import", export.toString()));

        assertThat(refused.exit()).isNotZero();
        assertThat(refused.err()).contains("table orgs differs").contains("nothing was committed");
    }

    @Test
    void the_manifest_lists_every_table_with_its_rows_and_digest() throws Exception {
        Path a = dir.resolve("a");
        String admin = TestServer.randomKey();
        try (TestServer server = TestServer.start(TestServer.config(a, admin))) {
            Installation.publish(server, admin, "shop", "one");
        }
        Path export = dir.resolve("export.zip");
        karta(args(a, null, "export", "--to", export.toString())).ok();
        try (ZipFile zip = new ZipFile(export.toFile())) {
            JsonNode manifest = JSON.readTree(zip.getInputStream(zip.getEntry("manifest.json")));
            assertThat(manifest.get("format").asText()).isEqualTo("karta-export/1");
            assertThat(manifest.get("schema_version").asText()).isNotBlank();
            JsonNode releases = null;
            for (JsonNode table : manifest.get("tables")) {
                if (table.get("name").asText().equals("releases")) {
                    releases = table;
                }
            }
            assertThat(releases).isNotNull();
            assertThat(releases.get("rows").asLong()).isEqualTo(1);
            byte[] lines = zip.getInputStream(zip.getEntry("tables/releases.jsonl")).readAllBytes();
            assertThat(releases.get("digest").asText()).isEqualTo("sha256:" + Digests.hex(
                    Digests.sha256().digest(lines)));
            assertThat(manifest.get("storage").get("archives")).hasSize(1);
            assertThat(zip.getEntry("secrets.key")).isNull();
        }
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(export))).isEqualTo("rw-------");
    }

    @Test
    void an_export_naming_a_repository_outside_the_store_is_refused(PostgresDatabase postgres) throws Exception {
        Path a = dir.resolve("a");
        String admin = TestServer.randomKey();
        try (TestServer server = TestServer.start(TestServer.config(a, admin))) {
            Installation.push(server, admin, dir.resolve("work"), "tool");
        }
        Path export = dir.resolve("export.zip");
        karta(args(a, null, "export", "--to", export.toString())).ok();
        Path hostile = dir.resolve("hostile.zip");
        rewrite(export, hostile, "manifest.json", text -> text.replaceAll("\"project_id\" : \"prj_[a-z0-9]+\"",
                "\"project_id\" : \"../../escape\""));

        Installation.Command refused = karta(args(dir.resolve("b"), postgres.url(), "import", hostile.toString()));

        assertThat(refused.exit()).isNotZero();
        assertThat(refused.err()).contains("invalid project id '../../escape'");
        assertThat(dir.resolve("escape")).doesNotExist();
    }

    @Test
    void storage_tables_listed_as_rows_in_an_export_are_left_out_of_the_import(PostgresDatabase postgres)
            throws Exception {
        Path a = dir.resolve("a");
        String admin = TestServer.randomKey();
        try (TestServer server = TestServer.start(TestServer.config(a, admin))) {
            Installation.publish(server, admin, "shop", "one");
        }
        Path export = dir.resolve("export.zip");
        karta(args(a, null, "export", "--to", export.toString())).ok();
        // As an earlier build wrote it: a blob as a row, beside the archive that carries its bytes.
        byte[] lines = "[\"sha256:forged\",1,\"2026-01-01T00:00:00Z\"]\n".getBytes(StandardCharsets.UTF_8);
        Path older = dir.resolve("older.zip");
        rewrite(export, older, "manifest.json", text -> {
            try {
                ObjectNode manifest = (ObjectNode) JSON.readTree(text);
                ObjectNode blobs = ((ArrayNode) manifest.get("tables")).addObject();
                blobs.put("name", "blobs").put("rows", 1).put("bytes", lines.length)
                        .put("digest", "sha256:" + Digests.hex(Digests.sha256().digest(lines)));
                blobs.putArray("columns").add("digest").add("size").add("created_at");
                return manifest.toString();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }, Map.of("tables/blobs.jsonl", lines));

        String imported = karta(args(dir.resolve("b"), postgres.url(), "import", older.toString())).ok().err();

        assertThat(imported).contains("table blobs: a storage table; its 1 rows are left out").contains("verified: ");
        try (Database db = Database.open(postgres.url())) {
            long forged = db.withHandle(h -> h.select("SELECT count(*) FROM blobs WHERE digest = 'sha256:forged'")
                    .mapTo(Long.class).one());
            assertThat(forged).isZero();
        }
        assertThat(count(postgres.url(), "blobs")).isPositive();
    }

    /** Copies a zip, changing the text of one entry. */
    private static void rewrite(Path from, Path to, String name, UnaryOperator<String> change) throws IOException {
        rewrite(from, to, name, change, Map.of());
    }

    /** Copies a zip, changing the text of one entry and adding {@code extra} entries. */
    private static void rewrite(Path from, Path to, String name, UnaryOperator<String> change,
                                Map<String, byte[]> extra) throws IOException {
        try (ZipFile zip = new ZipFile(from.toFile()); OutputStream out = Files.newOutputStream(to);
             ZipOutputStream copy = new ZipOutputStream(out)) {
            for (Map.Entry<String, byte[]> entry : extra.entrySet()) {
                copy.putNextEntry(new ZipEntry(entry.getKey()));
                copy.write(entry.getValue());
                copy.closeEntry();
            }
            Enumeration<? extends ZipEntry> entries = zip.entries();
            while (entries.hasMoreElements()) {
                ZipEntry entry = entries.nextElement();
                copy.putNextEntry(new ZipEntry(entry.getName()));
                try (InputStream in = zip.getInputStream(entry)) {
                    if (entry.getName().equals(name)) {
                        String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                        copy.write(change.apply(text).getBytes(StandardCharsets.UTF_8));
                    } else {
                        in.transferTo(copy);
                    }
                }
                copy.closeEntry();
            }
        }
    }
}
