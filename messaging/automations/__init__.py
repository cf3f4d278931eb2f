"""Automations: workflows (a trigger, ordered steps, a status), their enrollments (rows with an
append-only step log, stepped by a job that claims due ones in batches), campaign and bulk-send
pause/resume/cancel, the sub-account's "pause all sending", and the pause check dispatch runs
before every wave.

    triggers     what enrolls a contact (contact created, tag added, keyword, missed call, a date,
                 the API) and what ends enrollments (an opt-out, unenrolling, a stopped workflow)
    runner       the due-step job: claim due enrollments, run their steps set-based
    steps        what each kind of step does (pure parts: durations, times of day)
    workflows    a workflow's life: edit steps, activate, pause, resume, stop
    campaigns    pause, resume and cancel of a Bulk SMS or campaign; pause all / resume all
    pausing      the dispatch-wave check: which claimed messages belong to something paused
    reports      the counts the pages show (per workflow, per step)

Every message goes through `messaging.services.messages_send` with source `workflow`, so every
rule applies exactly as to any other send."""
