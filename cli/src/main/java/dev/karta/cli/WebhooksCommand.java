package dev.karta.cli;

import dev.karta.api.Printable;
import dev.karta.api.WebhookDelivery;
import dev.karta.api.WebhookEndpoint;
import dev.karta.api.WebhookEndpointSecret;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code karta webhooks list | create | delete | enable | disable | rotate-secret | test | deliveries | retry}:
 * the org's event webhook endpoints (admin).
 */
@Command(name = "webhooks", mixinStandardHelpOptions = true,
        description = "List, create, delete and test the event webhook endpoints of your org (admin key).")
final class WebhooksCommand {
    private final Cli cli;

    WebhooksCommand(Cli cli) {
        this.cli = cli;
    }

    static picocli.CommandLine.Model.CommandSpec spec(Cli cli) {
        return picocli.CommandLine.Model.CommandSpec.forAnnotatedObject(new WebhooksCommand(cli));
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List endpoints (never their secrets).")
    int list() {
        ApiClient.Reply<dev.karta.api.WebhookEndpointList> reply = cli.api().webhookEndpoints();
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        List<WebhookEndpoint> endpoints = reply.value().webhookEndpoints();
        output.table(List.of("ID", "URL", "EVENTS", "STATUS", "DESCRIPTION"), endpoints.stream()
                .map(e -> List.of(
                        e.id(),
                        Printable.line(e.url()),
                        String.join(",", e.events()),
                        e.enabled() ? "enabled" : "disabled" + (e.disabledReason() == null ? ""
                                : ": " + Printable.line(e.disabledReason())),
                        e.description() == null || e.description().isEmpty() ? Output.NONE
                                : Printable.line(e.description())))
                .toList());
        return 0;
    }

    @Command(name = "create", mixinStandardHelpOptions = true,
            description = "Create an endpoint and print its signing secret, once.")
    int create(@Parameters(paramLabel = "URL", description = "Where events are POSTed (https://).") String url,
               @Option(names = "--events", split = ",", defaultValue = "*", paramLabel = "TYPE",
                       description = "Event types, comma-separated, or * for all (default).") List<String> events,
               @Option(names = "--description", paramLabel = "TEXT", description = "What the endpoint is for.")
               String description) {
        ApiClient.Reply<WebhookEndpointSecret> reply = cli.api().createWebhookEndpoint(url, events, description);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        WebhookEndpointSecret created = reply.value();
        output.line("Created webhook endpoint " + created.webhookEndpoint().id() + " for "
                + Printable.line(created.webhookEndpoint().url()) + " (" + String.join(",",
                created.webhookEndpoint().events()) + "). Its signing secret:");
        output.line("");
        output.line("    " + created.secret());
        output.line("");
        cli.say("Copy it now: this is the only time the secret is shown. Deliveries carry Standard Webhooks "
                + "signatures made with it; see docs/webhooks.md to verify them.");
        return 0;
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Delete an endpoint; nothing more is sent to it.")
    int delete(@Parameters(paramLabel = "ID", description = "The endpoint's id (whe_…).") String id) {
        cli.api().deleteWebhookEndpoint(id);
        if (!cli.output().jsonMode()) {
            cli.output().line("Deleted webhook endpoint " + id);
        }
        return 0;
    }

    @Command(name = "enable", mixinStandardHelpOptions = true,
            description = "Enable an endpoint again; its pending deliveries are sent at once, with a new back-off.")
    int enable(@Parameters(paramLabel = "ID", description = "The endpoint's id (whe_…).") String id) {
        return setEnabled(id, true);
    }

    @Command(name = "disable", mixinStandardHelpOptions = true,
            description = "Disable an endpoint: nothing is sent to it, and events until it is enabled again are not kept for it.")
    int disable(@Parameters(paramLabel = "ID", description = "The endpoint's id (whe_…).") String id) {
        return setEnabled(id, false);
    }

    private int setEnabled(String id, boolean enabled) {
        ApiClient.Reply<WebhookEndpoint> reply = cli.api().setWebhookEndpointEnabled(id, enabled);
        if (cli.output().jsonMode()) {
            cli.output().json(reply.body());
        } else {
            cli.output().line((enabled ? "Enabled" : "Disabled") + " webhook endpoint " + id);
        }
        return 0;
    }

    @Command(name = "rotate-secret", mixinStandardHelpOptions = true,
            description = "Give an endpoint a new signing secret and print it, once; every delivery from now on uses it.")
    int rotateSecret(@Parameters(paramLabel = "ID", description = "The endpoint's id (whe_…).") String id) {
        ApiClient.Reply<WebhookEndpointSecret> reply = cli.api().rotateWebhookSecret(id);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        output.line("New signing secret of webhook endpoint " + id + ":");
        output.line("");
        output.line("    " + reply.value().secret());
        output.line("");
        cli.say("Copy it now: this is the only time the secret is shown.");
        return 0;
    }

    @Command(name = "retry", mixinStandardHelpOptions = true,
            description = "Send a delivery again now (delivered, failed or pending), with a new back-off.")
    int retry(@Parameters(index = "0", paramLabel = "ID", description = "The endpoint's id (whe_…).") String id,
              @Parameters(index = "1", paramLabel = "DELIVERY", description = "The delivery's id, from `karta webhooks "
                      + "deliveries ID`.") long delivery) {
        ApiClient.Reply<WebhookDelivery> reply = cli.api().retryWebhookDelivery(id, delivery);
        if (cli.output().jsonMode()) {
            cli.output().json(reply.body());
        } else {
            cli.output().line("Queued delivery " + delivery + " of event " + reply.value().eventId() + " again");
        }
        return 0;
    }

    @Command(name = "test", mixinStandardHelpOptions = true, description = "Send a ping event to an endpoint.")
    int test(@Parameters(paramLabel = "ID", description = "The endpoint's id (whe_…).") String id) {
        ApiClient.Reply<WebhookDelivery> reply = cli.api().testWebhookEndpoint(id);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        output.line("Queued ping event " + reply.value().eventId() + " (delivery " + reply.value().id() + "); see "
                + "`karta webhooks deliveries " + id + "`");
        return 0;
    }

    @Command(name = "deliveries", mixinStandardHelpOptions = true,
            description = "List an endpoint's recent deliveries, newest first, with their attempts.")
    int deliveries(@Parameters(paramLabel = "ID", description = "The endpoint's id (whe_…).") String id,
                   @Option(names = "--limit", defaultValue = "20", description = "How many (at most 200).") int limit) {
        ApiClient.Reply<dev.karta.api.WebhookDeliveryList> reply = cli.api().webhookDeliveries(id, limit);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        output.table(List.of("ID", "EVENT", "TYPE", "PROJECT", "STATUS", "ATTEMPTS", "LAST"), reply.value()
                .deliveries().stream()
                .map(d -> List.of(
                        Long.toString(d.id()),
                        d.eventId(),
                        d.eventType(),
                        Output.or(d.project()),
                        d.status(),
                        Integer.toString(d.attempts()),
                        d.lastError() != null ? Printable.line(d.lastError())
                                : d.lastStatusCode() != null ? "HTTP " + d.lastStatusCode() : Output.NONE))
                .toList());
        return 0;
    }
}
