package dev.karta.api;

import java.util.List;

public record LogEntries(List<LogEntry> entries) {
}
