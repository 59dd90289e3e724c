//! The revocation feed's trimming (book § Verifying tokens in other services): each append drops at most a bounded batch of
//! the oldest expired events, so no append stalls on a large trim, and the rest go with
//! the appends that follow.

use std::time::Duration;

use tessera::store::{Cursor, FeedRead, FeedRecord, Revocation};

fn jti(name: String) -> FeedRecord {
    FeedRecord::public(Revocation::Jti { jti: name, exp: 0 })
}

async fn page(backend: &super::Backend, after: Option<Cursor>) -> Option<Vec<(Cursor, String)>> {
    match backend.stores.feed.read(after, 5_000).await.unwrap() {
        FeedRead::Page { records, .. } => Some(
            records
                .into_iter()
                .map(|(c, r)| match r.event {
                    Revocation::Jti { jti, .. } => (c, jti),
                    other => panic!("unexpected event {other:?}"),
                })
                .collect(),
        ),
        FeedRead::Expired => None,
    }
}

pub async fn an_append_trims_at_most_a_batch_of_the_oldest_events(backend: &super::Backend) {
    let feed = &backend.stores.feed;
    let hour = Duration::from_secs(3600);
    let old: Vec<FeedRecord> = (0..2_500).map(|i| jti(format!("old-{i}"))).collect();
    feed.append(&old, backend.now(), hour).await.unwrap();
    let all = page(backend, None).await.unwrap();
    assert_eq!(all.len(), 2_500);
    let (first, thousandth) = (all[0].0, all[999].0);

    // the old events are now past what the feed keeps: one append drops the oldest 1,000
    backend.elapse(Duration::from_millis(5)).await;
    let keep = Duration::ZERO;
    feed.append(&[jti("new-1".into())], backend.now(), keep)
        .await
        .unwrap();
    let left = page(backend, None).await.unwrap();
    assert_eq!(
        left.len(),
        1_501,
        "1,000 of 2,500 dropped, and the new one kept"
    );
    assert_eq!(left[0].1, "old-1000");
    assert!(
        page(backend, Some(first)).await.is_none(),
        "a dropped cursor is expired"
    );
    let on = page(backend, Some(thousandth)).await.unwrap();
    assert_eq!(
        on[0].1, "old-1000",
        "the last dropped event's cursor reads on"
    );

    // the rest go with the next appends
    for i in 2..=3 {
        backend.elapse(Duration::from_millis(5)).await;
        feed.append(&[jti(format!("new-{i}"))], backend.now(), keep)
            .await
            .unwrap();
    }
    let left = page(backend, None).await.unwrap();
    assert!(
        left.iter().all(|(_, name)| name.starts_with("new-")),
        "{left:?}"
    );
    assert_eq!(left.last().map(|(_, n)| n.as_str()), Some("new-3"));
}
