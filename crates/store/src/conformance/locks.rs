//! The conformance suite of [`Locks`] and [`Ticks`] (feature `testing`), which every
//! relational store passes as part of [`super::relational::run_all`]. Each check takes a
//! prefix for the names it uses and releases the locks it takes; the tick records of its
//! schedules (named after the prefix) stay.

use crate::Error;
use crate::locks::{Locks, TickRecord, TickStatus, Ticks};
use chrono::{TimeZone, Utc};
use futures_util::future::join_all;
use std::time::Duration;

/// A lease no check outlives.
const LONG: Duration = Duration::from_secs(600);

/// Every check, names under `p`.
pub async fn run_all(locks: &dyn Locks, ticks: &dyn Ticks, p: &str) {
    one_owner_at_a_time(locks, p).await;
    expired_leases_are_taken_over(locks, p).await;
    live_locks_by_prefix(locks, p).await;
    racing_owners_one_wins(locks, p).await;
    bad_names_and_leases_are_refused(locks, p).await;
    ticks_round_trip(ticks, p).await;
}

/// One owner at a time: another owner can neither take nor release the lock; its owner
/// renews it (keeping when it took it) and releases it, and then it is free for the next.
pub async fn one_owner_at_a_time(store: &dyn Locks, p: &str) {
    let name = format!("{p}lock");
    assert!(store.lock_holder(&name).await.expect("holder").is_none());
    let a = store
        .try_lock(&name, "owner-a", LONG)
        .await
        .expect("try_lock")
        .expect("a free lock is taken");
    assert_eq!(
        (a.name.as_str(), a.owner.as_str()),
        (name.as_str(), "owner-a")
    );
    assert!(a.expires_at > a.acquired_at, "{a:?}");
    assert_eq!(
        store.lock_holder(&name).await.expect("holder"),
        Some(a.clone())
    );
    // Another owner cannot take it, nor release it.
    assert_eq!(
        store
            .try_lock(&name, "owner-b", LONG)
            .await
            .expect("try_lock"),
        None
    );
    assert!(!store.unlock(&name, "owner-b").await.expect("unlock"));
    assert_eq!(
        store
            .lock_holder(&name)
            .await
            .expect("holder")
            .map(|l| l.owner),
        Some("owner-a".to_string())
    );
    // The owner renews: same acquisition, a lease that ends no earlier.
    let renewed = store
        .try_lock(&name, "owner-a", LONG)
        .await
        .expect("try_lock")
        .expect("the owner renews its lease");
    assert_eq!(renewed.acquired_at, a.acquired_at);
    assert!(
        renewed.expires_at >= a.expires_at,
        "{renewed:?} after {a:?}"
    );
    // Released by its owner, it is free for the next.
    assert!(store.unlock(&name, "owner-a").await.expect("unlock"));
    assert!(store.lock_holder(&name).await.expect("holder").is_none());
    assert!(!store.unlock(&name, "owner-a").await.expect("unlock twice"));
    let b = store
        .try_lock(&name, "owner-b", LONG)
        .await
        .expect("try_lock")
        .expect("a released lock is free");
    assert_eq!(b.owner, "owner-b");
    assert!(store.unlock(&name, "owner-b").await.expect("unlock"));
}

/// An expired lease (a lease of 0 ends as it begins) is taken over, with a new
/// acquisition time; its former owner cannot renew it then.
pub async fn expired_leases_are_taken_over(store: &dyn Locks, p: &str) {
    let gone = format!("{p}expired");
    let dead = store
        .try_lock(&gone, "owner-dead", Duration::ZERO)
        .await
        .expect("try_lock")
        .expect("a free lock is taken");
    let taken = store
        .try_lock(&gone, "owner-c", LONG)
        .await
        .expect("try_lock")
        .expect("an expired lease is taken over");
    assert_eq!(taken.owner, "owner-c");
    assert!(
        taken.acquired_at >= dead.expires_at,
        "{taken:?} after {dead:?}"
    );
    assert_eq!(
        store
            .try_lock(&gone, "owner-dead", LONG)
            .await
            .expect("try_lock"),
        None
    );
    assert!(!store.unlock(&gone, "owner-dead").await.expect("unlock"));
    assert!(store.unlock(&gone, "owner-c").await.expect("unlock"));
}

/// Live locks by prefix: the unexpired ones only, in name order, none of another prefix.
pub async fn live_locks_by_prefix(store: &dyn Locks, p: &str) {
    let live = format!("{p}live:");
    for (k, lease) in [("b", LONG), ("a", LONG), ("dead", Duration::ZERO)] {
        store
            .try_lock(&format!("{live}{k}"), "owner-l", lease)
            .await
            .expect("try_lock")
            .expect("a free lock is taken");
    }
    let names: Vec<String> = store
        .live_locks(&live)
        .await
        .expect("live locks")
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(names, [format!("{live}a"), format!("{live}b")]);
    assert!(
        store
            .live_locks(&format!("{p}live-"))
            .await
            .expect("live locks")
            .is_empty()
    );
    for k in ["a", "b", "dead"] {
        store
            .unlock(&format!("{live}{k}"), "owner-l")
            .await
            .expect("unlock");
    }
}

/// Owners racing for a free lock, each on its own connection: exactly one wins, every
/// round.
pub async fn racing_owners_one_wins(store: &dyn Locks, p: &str) {
    for round in 0..5 {
        let race = format!("{p}race-{round}");
        let owners: Vec<String> = (0..6).map(|i| format!("racer-{i}")).collect();
        let got = join_all(owners.iter().map(|o| store.try_lock(&race, o, LONG))).await;
        let winners: Vec<_> = got
            .into_iter()
            .filter_map(|r| r.expect("try_lock"))
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        let holder = store
            .lock_holder(&race)
            .await
            .expect("holder")
            .expect("held");
        assert_eq!(holder, winners[0]);
        assert!(store.unlock(&race, &holder.owner).await.expect("unlock"));
    }
}

/// Names and owners are checked.
pub async fn bad_names_and_leases_are_refused(store: &dyn Locks, p: &str) {
    for (n, o) in [("", "x"), ("x", ""), ("x", "a\nb")] {
        let e = store.try_lock(n, o, LONG).await.expect_err("refused");
        assert!(matches!(e, Error::Data(_)), "{e:?}");
    }
    let e = store
        .try_lock(
            &format!("{p}lock"),
            "x",
            Duration::from_secs(31 * 24 * 3600),
        )
        .await
        .expect_err("a lease over 30 days is refused");
    assert!(matches!(e, Error::Data(_)), "{e:?}");
}

/// Tick records: the latest of a schedule is found (by tick, not by when it was recorded),
/// a tick recorded again is replaced, schedules do not see each other's ticks.
pub async fn ticks_round_trip(store: &dyn Ticks, p: &str) {
    let schedule = format!("{p}weekly");
    let other = format!("{p}other");
    assert!(
        store
            .last_tick(&schedule)
            .await
            .expect("last tick")
            .is_none()
    );
    let at = |day: u32, h: u32| {
        Utc.with_ymd_and_hms(2026, 11, day, h, 0, 0)
            .single()
            .expect("a time")
            + chrono::Duration::microseconds(250_001)
    };
    let tick = |t, status, msg: &str| TickRecord {
        schedule: schedule.clone(),
        tick: t,
        status,
        message: Some(msg.to_string()),
        recorded_at: at(30, 12),
    };
    let late = tick(at(30, 9), TickStatus::Succeeded, "seed-20261130 succeeded");
    let early = tick(at(23, 9), TickStatus::Skipped, "missed");
    store.put_tick(&late).await.expect("put tick");
    store.put_tick(&early).await.expect("put tick");
    assert_eq!(
        store.last_tick(&schedule).await.expect("last tick"),
        Some(late.clone())
    );
    let again = TickRecord {
        status: TickStatus::Failed,
        message: None,
        ..late.clone()
    };
    store.put_tick(&again).await.expect("put tick again");
    assert_eq!(
        store.last_tick(&schedule).await.expect("last tick"),
        Some(again)
    );
    assert!(store.last_tick(&other).await.expect("last tick").is_none());
    let theirs = TickRecord {
        schedule: other.clone(),
        ..early
    };
    store.put_tick(&theirs).await.expect("put tick");
    assert_eq!(
        store.last_tick(&other).await.expect("last tick"),
        Some(theirs)
    );
    assert_eq!(
        store
            .last_tick(&schedule)
            .await
            .expect("last tick")
            .map(|t| t.tick),
        Some(at(30, 9))
    );
}
