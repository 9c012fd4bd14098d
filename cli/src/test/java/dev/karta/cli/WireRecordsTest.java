package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.ErrorBody;
import dev.karta.api.Json;
import dev.karta.api.Project;
import dev.karta.api.ProjectList;
import dev.karta.api.RollbackRequest;
import dev.karta.api.Usage;
import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.net.URISyntaxException;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class WireRecordsTest {
    private static final ObjectMapper SERVER_MAPPING = Json.newMapper();
    private static final Instant AT = Instant.parse("2026-12-02T07:08:03.648Z");

    @Test
    void reads_what_the_server_sends_snake_case_nested_lists_and_instants_ignoring_unknown_members() {
        String sent = "{\"projects\":[{\"name\":\"shop\",\"url\":\"http://k/v1/projects/shop\",\"git_url\":null,"
                + "\"current_release\":{\"version\":\"v3\",\"commit_sha\":\"abc\",\"added_later\":1},"
                + "\"live_sessions\":[],\"created_at\":\"2026-12-02T07:08:03.648Z\",\"pinned\":null,"
                + "\"a_member_from_a_newer_server\":{\"x\":[1]}}]}";

        ProjectList list = WireRecords.read(sent, ProjectList.class);

        Project project = list.projects().get(0);
        assertThat(project.name()).isEqualTo("shop");
        assertThat(project.gitUrl()).isNull();
        assertThat(project.repo()).isNull();
        assertThat(project.currentRelease()).isEqualTo(new Project.CurrentRelease("v3", "abc"));
        assertThat(project.liveSessions()).isEmpty();
        assertThat(project.createdAt()).isEqualTo(AT);
    }

    @Test
    void a_member_of_the_wrong_kind_is_named_by_its_path() {
        assertThatThrownBy(() -> WireRecords.read("{\"projects\":[{\"name\":\"a\",\"created_at\":5}]}", ProjectList.class))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("'projects[0].created_at': expected an RFC 3339 time, got a number");
        assertThatThrownBy(() -> WireRecords.read("{\"projects\":{}}", ProjectList.class))
                .hasMessage("'projects': expected an array, got an object");
        assertThatThrownBy(() -> WireRecords.read("[]", ErrorBody.class))
                .hasMessage("the JSON: expected an object, got an array");
        assertThatThrownBy(() -> WireRecords.read("{\"deploys\":true}", Usage.class))
                .hasMessage("'deploys': expected a whole number, got a boolean");
    }

    @Test
    void a_primitive_member_missing_is_refused_as_by_the_servers_mapping() {
        assertThatThrownBy(() -> SERVER_MAPPING.readValue("{}", Usage.class)).hasMessageContaining("Usage[\"deploys\"]");
        assertThatThrownBy(() -> WireRecords.read("{}", Usage.class)).hasMessage("'deploys': expected long, got null");
    }

    @Test
    void writes_records_as_the_servers_mapping_does_nulls_left_out_only_where_the_record_says_so() throws Exception {
        RollbackRequest rollback = new RollbackRequest("v3", null, true);
        assertThat(JsonText.compact(WireRecords.toTree(rollback))).isEqualTo("{\"to\":\"v3\",\"dry_run\":true}")
                .isEqualTo(SERVER_MAPPING.writeValueAsString(rollback));
        ErrorBody error = new ErrorBody("not_found", null);
        assertThat(JsonText.compact(WireRecords.toTree(error))).isEqualTo("{\"error\":\"not_found\",\"message\":null}")
                .isEqualTo(SERVER_MAPPING.writeValueAsString(error));
    }

    /**
     * Every wire record, filled in and then with every nullable component null, written by both
     * mappings to the same JSON, and each mapping's JSON read back by this one to the same record:
     * a component or an annotation added to the api module that this mapping gets wrong fails here.
     */
    @Test
    void agrees_with_the_servers_mapping_on_every_wire_record() throws Exception {
        List<Class<?>> records = wireRecords();
        assertThat(records).hasSizeGreaterThan(50);
        List<String> checked = new ArrayList<>();
        for (Class<?> type : records) {
            for (boolean nulls : new boolean[] {false, true}) {
                Object sample = sample(type, nulls);
                if (sample == null) {
                    continue; // the record's own checks refuse nulls
                }
                String theirs = SERVER_MAPPING.writeValueAsString(sample);
                assertThat(JsonText.parse(JsonText.compact(WireRecords.toTree(sample))))
                        .as("%s written", type.getName()).isEqualTo(JsonText.parse(theirs));
                assertThat(WireRecords.read(theirs, type)).as("%s read", type.getName()).isEqualTo(sample);
                checked.add(type.getSimpleName());
            }
        }
        assertThat(checked).contains("Project", "Deploy", "Release", "Session", "WebhookDelivery", "Usage");
    }

    /** Every record class of the api module, from its classes folder or, in {@code verify}, its jar. */
    private static List<Class<?>> wireRecords() throws IOException, URISyntaxException {
        Path location = Path.of(Project.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        if (Files.isRegularFile(location)) {
            try (FileSystem jar = FileSystems.newFileSystem(location)) {
                return recordsUnder(jar.getPath("/"));
            }
        }
        return recordsUnder(location);
    }

    private static List<Class<?>> recordsUnder(Path classes) throws IOException {
        List<Class<?>> records = new ArrayList<>();
        try (Stream<Path> files = Files.walk(classes.resolve("dev/karta/api"))) {
            for (Path file : files.filter(f -> f.toString().endsWith(".class")).sorted().toList()) {
                String name = classes.relativize(file).toString().replace('/', '.').replaceAll("\\.class$", "");
                try {
                    Class<?> type = Class.forName(name);
                    if (type.isRecord()) {
                        records.add(type);
                    }
                } catch (ClassNotFoundException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        return records;
    }

    /** A record with a value in every component (or null in every nullable one); null when the record refuses it. */
    private static Object sample(Class<?> type, boolean nulls) throws Exception {
        RecordComponent[] components = type.getRecordComponents();
        Object[] values = new Object[components.length];
        Class<?>[] types = new Class<?>[components.length];
        for (int i = 0; i < components.length; i++) {
            types[i] = components[i].getType();
            values[i] = nulls && !types[i].isPrimitive() ? null : value(components[i].getGenericType(), i);
        }
        Constructor<?> constructor = type.getDeclaredConstructor(types);
        try {
            return constructor.newInstance(values);
        } catch (InvocationTargetException refused) {
            if (nulls) {
                return null;
            }
            throw refused;
        }
    }

    private static Object value(Type type, int position) throws Exception {
        if (type instanceof ParameterizedType generic) {
            Type element = generic.getActualTypeArguments()[generic.getActualTypeArguments().length - 1];
            return generic.getRawType() == List.class ? List.of(value(element, position))
                    : Map.of("NAME_" + position, value(element, position));
        }
        Class<?> c = (Class<?>) type;
        if (c == String.class) {
            return "value-" + position;
        } else if (c == boolean.class || c == Boolean.class) {
            return position % 2 == 0;
        } else if (c == long.class || c == Long.class) {
            return 1_000_000_000_000L + position;
        } else if (c == int.class || c == Integer.class) {
            return 40 + position;
        } else if (c == double.class || c == Double.class) {
            return 1.5 + position;
        } else if (c == Instant.class) {
            return AT.plusSeconds(position);
        } else if (c.isRecord()) {
            return sample(c, false);
        }
        throw new IllegalStateException("no sample of " + c);
    }
}
