//! Tests of the store against real directories and a real SQLite file.

use std::collections::HashSet;

use super::*;

fn at(unix_ms: i64) -> Timestamp {
    Timestamp { unix_ms }
}

/// A listed thread (it has a turn) created at `unix_ms` with the given preview.
fn thread(unix_ms: i64, preview: &str) -> ThreadRecord {
    let mut record = ThreadRecord::new(
        new_id(),
        "/projects/a".to_owned(),
        "fake".to_owned(),
        "0.1.0".to_owned(),
        at(unix_ms),
    );
    record.preview = preview.to_owned();
    record.has_turns = true;
    record
}

fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(dir.path()).unwrap()
}

fn ids(page: &ListPage) -> Vec<Uuid> {
    page.threads.iter().map(|record| record.id).collect()
}

#[test]
fn create_read_update() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut record = thread(1_795_421_117_000, "hello");
    record.approval_policy = serde_json::json!({"granular": {"x": 1}});
    store.create_thread(&record).unwrap();
    assert_eq!(store.read_thread(record.id).unwrap(), Some(record.clone()));
    assert!(matches!(
        store.create_thread(&record),
        Err(StoreError::AlreadyExists(id)) if id == record.id
    ));

    let updated = store
        .update_thread(record.id, |stored| {
            stored.name = Some("Renamed".to_owned());
            stored.touch(at(1_795_421_200_123));
        })
        .unwrap();
    assert_eq!(updated.name.as_deref(), Some("Renamed"));
    assert_eq!(updated.updated_at, 1_795_421_200);
    assert_eq!(updated.updated_at_ms, 1_795_421_200_123);
    assert_eq!(store.read_thread(record.id).unwrap(), Some(updated.clone()));
    assert_eq!(store.indexed_record(record.id).unwrap(), Some(updated));

    let unknown = new_id();
    assert_eq!(store.read_thread(unknown).unwrap(), None);
    assert!(matches!(
        store.update_thread(unknown, |_| {}),
        Err(StoreError::NotFound(id)) if id == unknown
    ));
    // A failed update creates nothing on disk.
    assert!(!store.thread_dir(unknown).exists());
}

#[test]
fn record_file_is_versioned_and_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let record = thread(1_000, "p");
    store.create_thread(&record).unwrap();
    let path = store.thread_dir(record.id).join(THREAD_FILE_NAME);
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(json["v"], 1);
    assert_eq!(json["id"], record.id.to_string());
    assert_eq!(json["modelProvider"], "fake");
    let mode = std::fs::metadata(dir.path().join(THREADS_DIR_NAME))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    let mode = std::fs::metadata(dir.path().join(INDEX_FILE_NAME))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // A record of another version is a clear error, not a silent default.
    let mut other = json.clone();
    other["v"] = serde_json::json!(2);
    std::fs::write(&path, serde_json::to_vec(&other).unwrap()).unwrap();
    let err = store.read_thread(record.id).unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown record version 2 (this build reads version 1)"),
        "{err}"
    );
}

#[test]
fn list_orders_pages_and_skips_threads_without_turns() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut created = Vec::new();
    for n in 0..7 {
        let record = thread(1_000_000 + n * 1000, &format!("prompt {n}"));
        store.create_thread(&record).unwrap();
        created.push(record.id);
    }
    let mut unlisted = thread(2_000_000, "none yet");
    unlisted.has_turns = false;
    store.create_thread(&unlisted).unwrap();

    let all = store.list_threads(&ListQuery::default()).unwrap();
    let newest_first: Vec<Uuid> = created.iter().rev().copied().collect();
    assert_eq!(ids(&all), newest_first);
    assert_eq!(all.next_cursor, None);

    // Pages of 3, newest first, then following the cursor.
    let mut seen = Vec::new();
    let mut query = ListQuery {
        limit: Some(3),
        ..ListQuery::default()
    };
    loop {
        let page = store.list_threads(&query).unwrap();
        assert!(page.threads.len() <= 3);
        seen.extend(ids(&page));
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(seen, newest_first);

    // Ascending; limit 0 returns one thread and a cursor (as Codex).
    let asc = store
        .list_threads(&ListQuery {
            direction: SortDirection::Asc,
            limit: Some(0),
            ..ListQuery::default()
        })
        .unwrap();
    assert_eq!(ids(&asc), vec![created[0]]);
    let cursor = asc.next_cursor.unwrap();
    assert!(cursor.starts_with("1970-01-01T00:16:40Z|"), "{cursor}");

    // Sorting by update time follows the updates.
    store
        .update_thread(created[0], |record| record.touch(at(9_000_000)))
        .unwrap();
    let by_update = store
        .list_threads(&ListQuery {
            sort_key: SortKey::UpdatedAt,
            limit: Some(2),
            ..ListQuery::default()
        })
        .unwrap();
    assert_eq!(ids(&by_update), vec![created[0], created[6]]);
    assert!(
        by_update
            .next_cursor
            .as_deref()
            .unwrap()
            .starts_with("1970-01-01T00:16:46.000Z|"),
        "{by_update:?}"
    );
}

#[test]
fn list_breaks_ties_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    // Same second for all: the id decides, and paging still visits each once.
    let mut records: Vec<ThreadRecord> = (0..10).map(|_| thread(5_000, "same")).collect();
    for record in &records {
        store.create_thread(record).unwrap();
    }
    records.sort_by_key(|record| std::cmp::Reverse(record.id));
    let mut seen = Vec::new();
    let mut query = ListQuery {
        limit: Some(4),
        ..ListQuery::default()
    };
    loop {
        let page = store.list_threads(&query).unwrap();
        seen.extend(ids(&page));
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    let expected: Vec<Uuid> = records.iter().map(|record| record.id).collect();
    assert_eq!(seen, expected);
}

#[test]
fn list_filters() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut a = thread(1_000, "Fix the Ünicode bug");
    a.cwd = "/one".to_owned();
    let mut b = thread(2_000, "write docs");
    b.cwd = "/two".to_owned();
    b.model_provider = "claude".to_owned();
    b.name = Some("Docs Sprint".to_owned());
    let mut c = thread(3_000, "100% done_ok");
    c.cwd = "/three".to_owned();
    for record in [&a, &b, &c] {
        store.create_thread(record).unwrap();
    }
    let list = |query: ListQuery| ids(&store.list_threads(&query).unwrap());

    assert_eq!(
        list(ListQuery {
            cwd: vec!["/one".to_owned(), "/two".to_owned()],
            ..ListQuery::default()
        }),
        vec![b.id, a.id]
    );
    assert_eq!(
        list(ListQuery {
            model_providers: vec!["claude".to_owned()],
            ..ListQuery::default()
        }),
        vec![b.id]
    );
    let search = |term: &str| {
        list(ListQuery {
            search_term: Some(term.to_owned()),
            ..ListQuery::default()
        })
    };
    assert_eq!(search("ünicode"), vec![a.id]);
    assert_eq!(search("DOCS"), vec![b.id]);
    assert_eq!(search("sprint"), vec![b.id]);
    // SQL wildcards are plain characters.
    assert_eq!(search("%"), vec![c.id]);
    assert_eq!(search("e_o"), vec![c.id]);
    assert_eq!(search("nothing like it"), Vec::<Uuid>::new());
}

#[test]
fn archive_moves_threads_between_listings() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let a = thread(1_000, "a");
    let b = thread(2_000, "b");
    store.create_thread(&a).unwrap();
    store.create_thread(&b).unwrap();

    let archived = store.set_archived(a.id, ArchiveState::Archived).unwrap();
    assert!(archived.archived);
    assert!(matches!(
        store.set_archived(a.id, ArchiveState::Archived),
        Err(StoreError::AlreadyArchived(id)) if id == a.id
    ));
    let active = ListQuery::default();
    let only_archived = ListQuery {
        archived: true,
        ..ListQuery::default()
    };
    assert_eq!(ids(&store.list_threads(&active).unwrap()), vec![b.id]);
    assert_eq!(
        ids(&store.list_threads(&only_archived).unwrap()),
        vec![a.id]
    );

    store.set_archived(a.id, ArchiveState::Active).unwrap();
    assert!(matches!(
        store.set_archived(a.id, ArchiveState::Active),
        Err(StoreError::NotArchived(id)) if id == a.id
    ));
    assert_eq!(ids(&store.list_threads(&active).unwrap()), vec![b.id, a.id]);
    assert!(
        store
            .list_threads(&only_archived)
            .unwrap()
            .threads
            .is_empty()
    );
}

#[test]
fn invalid_cursor_is_reported_verbatim() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    for bad in ["not-a-valid-cursor", "2026-11-23T08:05:17Z|nope", ""] {
        let err = store
            .list_threads(&ListQuery {
                cursor: Some(bad.to_owned()),
                ..ListQuery::default()
            })
            .unwrap_err();
        assert!(matches!(&err, StoreError::InvalidCursor(text) if text == bad));
        assert_eq!(err.to_string(), format!("invalid cursor: {bad}"));
    }
}

#[test]
fn rebuilds_the_index_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let records: Vec<ThreadRecord> = (0..5).map(|n| thread(1_000 + n, "x")).collect();
    {
        let store = open(&dir);
        for record in &records {
            store.create_thread(record).unwrap();
        }
    }
    let expected: Vec<Uuid> = records.iter().rev().map(|record| record.id).collect();

    // Debris the rebuild must step over: a stray temp file, a directory without a record,
    // an unreadable record, a name that is not an id.
    let threads = dir.path().join(THREADS_DIR_NAME);
    std::fs::write(threads.join("x.json.123.tmp"), b"{").unwrap();
    std::fs::create_dir(threads.join(new_id().to_string())).unwrap();
    let broken = threads.join(new_id().to_string());
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(broken.join(THREAD_FILE_NAME), b"{\"v\":1, \"id\": 3").unwrap();
    std::fs::create_dir(threads.join("not-an-id")).unwrap();
    let first_dir = threads.join(records[0].id.to_string());
    std::fs::write(first_dir.join("thread.json.99.tmp"), b"garbage").unwrap();

    // Missing index: rebuilt on open.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.path().join(format!("{INDEX_FILE_NAME}{suffix}")));
    }
    let store = open(&dir);
    assert_eq!(
        ids(&store.list_threads(&ListQuery::default()).unwrap()),
        expected
    );
    drop(store);

    // Corrupt index: rebuilt on open.
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.path().join(format!("{INDEX_FILE_NAME}{suffix}")));
    }
    std::fs::write(dir.path().join(INDEX_FILE_NAME), vec![0x5a; 8192]).unwrap();
    let store = open(&dir);
    assert_eq!(
        ids(&store.list_threads(&ListQuery::default()).unwrap()),
        expected
    );
    drop(store);

    // Another schema version: rebuilt on open.
    {
        let conn = rusqlite::Connection::open(dir.path().join(INDEX_FILE_NAME)).unwrap();
        conn.execute("DELETE FROM threads", []).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let store = open(&dir);
    assert_eq!(
        ids(&store.list_threads(&ListQuery::default()).unwrap()),
        expected
    );

    // On request.
    assert_eq!(store.rebuild_index().unwrap(), 5);
    assert_eq!(
        ids(&store.list_threads(&ListQuery::default()).unwrap()),
        expected
    );
}

#[test]
fn a_write_interrupted_before_the_index_is_repaired_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let record = thread(1_000, "before");
    {
        let store = open(&dir);
        store.create_thread(&record).unwrap();
        // Simulate a crash after the file was replaced but before the index upsert.
        let mut changed = record.clone();
        changed.preview = "after".to_owned();
        store.index().unwrap().mark_pending(record.id).unwrap();
        let bytes = record::to_stored_json(&changed).unwrap();
        crate::atomic_file::write_atomic(
            &store.thread_dir(record.id).join(THREAD_FILE_NAME),
            &bytes,
        )
        .unwrap();
        assert_eq!(
            store.indexed_record(record.id).unwrap().unwrap().preview,
            "before"
        );
    }
    let store = open(&dir);
    assert_eq!(
        store.indexed_record(record.id).unwrap().unwrap().preview,
        "after"
    );
}

#[test]
fn two_stores_on_one_directory_see_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(&dir);
    let second = open(&dir);
    let record = thread(1_000, "shared");
    first.create_thread(&record).unwrap();
    assert_eq!(second.read_thread(record.id).unwrap(), Some(record.clone()));
    assert_eq!(
        ids(&second.list_threads(&ListQuery::default()).unwrap()),
        vec![record.id]
    );
    second
        .update_thread(record.id, |stored| {
            stored.name = Some("from second".to_owned())
        })
        .unwrap();
    let seen = first.list_threads(&ListQuery::default()).unwrap();
    assert_eq!(seen.threads[0].name.as_deref(), Some("from second"));

    // Concurrent read-modify-writes from two stores never lose an update.
    let state_dir = dir.path().to_owned();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let state_dir = state_dir.clone();
            std::thread::spawn(move || {
                let store = Store::open(&state_dir).unwrap();
                for _ in 0..25 {
                    store
                        .update_thread(record.id, |stored| {
                            let count: u64 = stored.preview.parse().unwrap_or(0);
                            stored.preview = (count + 1).to_string();
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    assert_eq!(first.read_thread(record.id).unwrap().unwrap().preview, "50");
    assert_eq!(
        first.indexed_record(record.id).unwrap().unwrap().preview,
        "50"
    );
}

#[test]
fn a_deferred_index_is_waited_for_at_first_use() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_deferred(dir.path()).unwrap();
    assert!(dir.path().join(THREADS_DIR_NAME).is_dir());
    let record = thread(1_795_421_117_000, "deferred");
    store.create_thread(&record).unwrap();
    assert_eq!(
        ids(&store.list_threads(&ListQuery::default()).unwrap()),
        [record.id]
    );
    drop(store);
    // A deferred store on an existing directory finds what the first one wrote.
    let store = Store::open_deferred(dir.path()).unwrap();
    assert_eq!(store.read_thread(record.id).unwrap(), Some(record.clone()));
    assert_eq!(store.indexed_record(record.id).unwrap(), Some(record));
}

#[test]
fn an_index_that_cannot_be_opened_fails_each_use_but_not_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let made = open(&dir);
    let record = thread(1_795_421_117_000, "kept");
    made.create_thread(&record).unwrap();
    drop(made);
    // A directory where the database should be: SQLite cannot open it.
    for name in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.path().join(format!("{INDEX_FILE_NAME}{name}")));
    }
    std::fs::create_dir(dir.path().join(INDEX_FILE_NAME)).unwrap();
    assert!(Store::open(dir.path()).is_err());

    let store = Store::open_deferred(dir.path()).unwrap();
    for _ in 0..2 {
        let err = store.list_threads(&ListQuery::default()).unwrap_err();
        assert!(matches!(&err, StoreError::IndexUnavailable(_)), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("the thread index could not be opened: "),
            "{err}"
        );
    }
    // Nothing is written that the index could not follow.
    let other = thread(1_795_421_118_000, "refused");
    assert!(matches!(
        store.create_thread(&other),
        Err(StoreError::IndexUnavailable(_))
    ));
    assert!(!store.thread_dir(other.id).exists());
    assert!(
        store
            .update_thread(record.id, |r| r.name = Some("x".to_owned()))
            .is_err()
    );
    // The records themselves are still read.
    assert_eq!(store.read_thread(record.id).unwrap(), Some(record));
}

#[test]
fn turn_directories() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let record = thread(1_000, "t");
    assert!(matches!(
        store.create_turn_dir(record.id, new_id()),
        Err(StoreError::NotFound(_))
    ));
    store.create_thread(&record).unwrap();
    assert_eq!(store.list_turn_ids(record.id).unwrap(), Vec::<Uuid>::new());
    let turns: Vec<Uuid> = (0..3).map(|_| new_id()).collect();
    for turn in turns.iter().rev() {
        let path = store.create_turn_dir(record.id, *turn).unwrap();
        assert_eq!(path, store.turn_dir(record.id, *turn));
        assert!(path.is_dir());
    }
    let turns_dir = store.thread_dir(record.id).join(TURNS_DIR_NAME);
    std::fs::write(turns_dir.join("spec.json.1.tmp"), b"").unwrap();
    std::fs::create_dir(turns_dir.join("junk")).unwrap();
    assert_eq!(store.list_turn_ids(record.id).unwrap(), turns);
}

#[test]
fn pages_through_100k_threads_in_order_on_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let total = 100_000;
    let base = 1_700_000_000_000i64;
    let records: Vec<ThreadRecord> = (0..total)
        .map(|n| {
            // Ten threads per second, so that ties on created_at are common.
            let mut record = thread(base + n * 100, &format!("prompt {n}"));
            record.archived = n % 10 == 0;
            record
        })
        .collect();
    store.index_records_unchecked(&records).unwrap();

    let plan = store
        .explain_list(&ListQuery::default())
        .unwrap()
        .join("; ");
    assert!(plan.contains("threads_by_created"), "{plan}");
    assert!(!plan.contains("TEMP B-TREE"), "{plan}");

    for (sort_key, direction) in [
        (SortKey::CreatedAt, SortDirection::Desc),
        (SortKey::UpdatedAt, SortDirection::Asc),
    ] {
        let mut query = ListQuery {
            sort_key,
            direction,
            ..ListQuery::default()
        };
        let mut seen = Vec::new();
        loop {
            let page = store.list_threads(&query).unwrap();
            assert!(page.threads.len() <= DEFAULT_PAGE_SIZE as usize);
            seen.extend(
                page.threads
                    .iter()
                    .map(|record| (record.created_at, record.id)),
            );
            match page.next_cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => break,
            }
        }
        let mut expected: Vec<(i64, Uuid)> = records
            .iter()
            .filter(|record| !record.archived)
            .map(|record| (record.created_at, record.id))
            .collect();
        expected.sort();
        if direction == SortDirection::Desc {
            expected.reverse();
        }
        assert_eq!(seen.len(), expected.len());
        assert_eq!(seen, expected, "{sort_key:?} {direction:?}");
        let unique: HashSet<Uuid> = seen.iter().map(|(_, id)| *id).collect();
        assert_eq!(unique.len(), expected.len());
    }
}

#[test]
fn a_symlinked_directory_inside_the_state_directory_is_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let record = thread(1_000, "p");
    store.create_thread(&record).unwrap();
    // A planted `turns` link out of the state directory.
    let turns = store.thread_dir(record.id).join(TURNS_DIR_NAME);
    std::os::unix::fs::symlink(outside.path(), &turns).unwrap();
    let err = store.create_turn_dir(record.id, new_id()).unwrap_err();
    assert!(err.to_string().contains("is a symbolic link"), "{err}");
    // An ephemeral thread's directory planted the same way.
    let ephemeral = new_id();
    std::fs::create_dir(dir.path().join(EPHEMERAL_DIR_NAME)).unwrap();
    std::os::unix::fs::symlink(outside.path(), store.ephemeral_turns_dir(ephemeral)).unwrap();
    let err = store
        .create_ephemeral_turn_dir(ephemeral, new_id())
        .unwrap_err();
    assert!(err.to_string().contains("is a symbolic link"), "{err}");
    // And a `threads` link: the store does not open.
    let other = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), other.path().join(THREADS_DIR_NAME)).unwrap();
    let err = Store::open(other.path()).unwrap_err();
    assert!(err.to_string().contains("is a symbolic link"), "{err}");
    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        0,
        "something was created outside the state directory"
    );
}

#[test]
fn turn_directories_of_both_kinds_are_made_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let record = thread(1_000, "p");
    store.create_thread(&record).unwrap();
    let durable = store.create_turn_dir(record.id, new_id()).unwrap();
    let ephemeral = store.create_ephemeral_turn_dir(new_id(), new_id()).unwrap();
    for made in [&durable, &ephemeral] {
        let mode = std::fs::metadata(made).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{}", made.display());
    }
    assert!(ephemeral.starts_with(dir.path().join(EPHEMERAL_DIR_NAME)));
}

#[test]
fn a_removed_thread_is_gone_from_files_index_and_listing_and_a_second_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let other = open(&dir);
    let kept = thread(1_000, "kept");
    let removed = thread(2_000, "removed");
    for record in [&kept, &removed] {
        store.create_thread(record).unwrap();
        store.create_turn_dir(record.id, new_id()).unwrap();
    }
    let lock = store.lock_thread(removed.id).unwrap();
    store.remove_thread(removed.id, &lock).unwrap();
    drop(lock);
    for reader in [&store, &other] {
        assert_eq!(reader.read_thread(removed.id).unwrap(), None);
        assert_eq!(reader.indexed_record(removed.id).unwrap(), None);
        assert_eq!(
            ids(&reader.list_threads(&ListQuery::default()).unwrap()),
            vec![kept.id]
        );
        assert!(reader.list_turn_ids(removed.id).unwrap().is_empty());
    }
    assert!(!store.thread_dir(removed.id).exists());
    let trash = dir.path().join(remove::TRASH_DIR_NAME);
    assert_eq!(std::fs::read_dir(&trash).unwrap().count(), 0);
    // A thread that is gone cannot be locked, updated or removed again.
    assert!(matches!(
        store.lock_thread(removed.id),
        Err(StoreError::NotFound(id)) if id == removed.id
    ));
    assert!(matches!(
        store.update_thread(removed.id, |_| {}),
        Err(StoreError::NotFound(_))
    ));
    let lock = store.lock_thread(kept.id).unwrap();
    assert!(matches!(
        store.remove_thread(new_id(), &lock),
        Err(StoreError::NotFound(_))
    ));
    // The rebuilt index agrees.
    assert_eq!(store.rebuild_index().unwrap(), 1);
}

#[test]
fn a_removal_cut_short_is_finished_by_the_next_open_and_the_next_removal() {
    let dir = tempfile::tempdir().unwrap();
    let record = thread(1_000, "doomed");
    let trash = dir.path().join(remove::TRASH_DIR_NAME);
    {
        let store = open(&dir);
        store.create_thread(&record).unwrap();
        store.create_turn_dir(record.id, new_id()).unwrap();
        // Simulate a crash after the rename, before the index row and the tree went.
        store.index().unwrap().mark_pending(record.id).unwrap();
        std::fs::create_dir(&trash).unwrap();
        std::fs::rename(store.thread_dir(record.id), trash.join("left-over")).unwrap();
        assert!(store.indexed_record(record.id).unwrap().is_some());
    }
    let store = open(&dir);
    assert_eq!(store.indexed_record(record.id).unwrap(), None);
    assert!(ids(&store.list_threads(&ListQuery::default()).unwrap()).is_empty());
    store.empty_trash();
    assert_eq!(std::fs::read_dir(&trash).unwrap().count(), 0);
}

#[test]
fn goal_and_memory_mode_round_trip_and_old_records_read_without_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut record = thread(1_000, "p");
    store.create_thread(&record).unwrap();
    let path = store.thread_dir(record.id).join(THREAD_FILE_NAME);
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert!(
        json.get("goal").is_none() && json.get("memoryMode").is_none(),
        "{json}"
    );
    record.goal = Some(ThreadGoal {
        objective: "Ship it".to_owned(),
        status: GoalStatus::BudgetLimited,
        token_budget: Some(100),
        tokens_used: 120,
        time_used_ms: 2_500,
        created_at: 1,
        updated_at: 2,
        last_counted_turn: Some(new_id()),
    });
    record.memory_mode = MemoryMode::Disabled;
    let stored = store
        .update_thread(record.id, |r| {
            r.goal = record.goal.clone();
            r.memory_mode = MemoryMode::Disabled;
        })
        .unwrap();
    assert_eq!(stored, record);
    assert_eq!(store.read_thread(record.id).unwrap(), Some(record.clone()));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(json["goal"]["status"], "budgetLimited");
    assert_eq!(json["memoryMode"], "disabled");
}
