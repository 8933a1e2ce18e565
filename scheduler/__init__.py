"""The project's rhythm: daily prompts, weekly agendas and minutes, PM digests, reminders and escalation.

- `calendar`: the working calendar (project overrides > chinesecalendar > a logged estimate).
- `slots`: when each job falls due for a project, in its own time zone (pure).
- `data` + `builders`: pure (session, project, at) → Reply builders over batched, read-only rows.
- `jobs`: the units of work: due → build → claim (JobRun) → outbox, exactly once.
- `service`: APScheduler inside `tandem serve`; `cli`: `tandem jobs run`.
"""
