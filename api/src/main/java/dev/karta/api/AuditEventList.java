package dev.karta.api;

import java.util.List;

public record AuditEventList(List<AuditEvent> events) {
}
