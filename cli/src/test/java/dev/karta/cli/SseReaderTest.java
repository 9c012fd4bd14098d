package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.StringReader;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SseReaderTest {

    private static List<SseReader.Event> read(String stream) throws IOException {
        SseReader reader = new SseReader(new BufferedReader(new StringReader(stream)));
        List<SseReader.Event> events = new ArrayList<>();
        for (SseReader.Event event; (event = reader.next()) != null; ) {
            events.add(event);
        }
        return events;
    }

    @Test
    void a_blank_line_dispatches_type_id_and_data() throws IOException {
        assertThat(read("event: log\nid: 7\ndata: {\"a\":1}\n\n"))
                .containsExactly(new SseReader.Event("log", "7", "{\"a\":1}"));
    }

    @Test
    void an_unnamed_event_is_a_message() throws IOException {
        assertThat(read("data: hi\n\n")).containsExactly(new SseReader.Event("message", null, "hi"));
    }

    @Test
    void several_data_lines_join_with_newlines() throws IOException {
        assertThat(read("data: one\ndata: two\n\n").get(0).data()).isEqualTo("one\ntwo");
    }

    @Test
    void comments_are_heartbeats_and_not_events() throws IOException {
        assertThat(read(": ping\n\n: ping\n\ndata: x\n\n")).extracting(SseReader.Event::data).containsExactly("x");
    }

    @Test
    void only_one_space_after_the_colon_is_removed() throws IOException {
        assertThat(read("data:  two spaces\n\n").get(0).data()).isEqualTo(" two spaces");
        assertThat(read("data:none\n\n").get(0).data()).isEqualTo("none");
    }

    @Test
    void crlf_and_cr_line_endings_work() throws IOException {
        assertThat(read("event: end\r\ndata: a\r\n\r\nevent: log\rdata: b\r\r"))
                .extracting(SseReader.Event::type).containsExactly("end", "log");
    }

    @Test
    void the_last_event_id_carries_over_to_events_without_one() throws IOException {
        assertThat(read("id: 3\ndata: a\n\ndata: b\n\n")).extracting(SseReader.Event::id).containsExactly("3", "3");
    }

    @Test
    void an_unfinished_event_at_the_end_is_dropped() throws IOException {
        assertThat(read("data: complete\n\nevent: end\ndata: cut off")).extracting(SseReader.Event::data)
                .containsExactly("complete");
    }

    @Test
    void unknown_fields_and_retry_are_ignored() throws IOException {
        assertThat(read("retry: 1000\nfoo: bar\ndata: x\n\n")).containsExactly(new SseReader.Event("message", null, "x"));
    }
}
