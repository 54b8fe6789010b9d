//! The vector indexes of all partitions, one lock each.
//!
//! Lookups take the map's read lock only long enough to clone one partition's
//! `Arc`, then that partition's read lock for the search, so lookups run
//! concurrently with each other and with writes to other partitions. A partition
//! emptied by evictions is dropped from the map; it is marked `dropped` first, so
//! an insert that fetched it just before sees the mark and retries on a fresh one
//! instead of writing into an orphan.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::index::{EntryId, IndexConfig, IndexError, VectorIndex};
use crate::keys::{ExactKey, PartitionKey};
use crate::rotation::Rotation;

/// Why a vector could not be added to a partition.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PartitionError {
    /// The vector was refused by the partition's index.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The partition key belongs to another tenant (only a 128-bit hash collision
    /// or a caller passing one tenant's keys with another tenant's name gets here).
    #[error("partition {partition} belongs to another tenant")]
    TenantMismatch {
        /// The partition.
        partition: PartitionKey,
    },
}

/// A semantic match: the entry, the exact key it is stored under, its similarity.
pub(crate) struct Found {
    pub(crate) id: EntryId,
    pub(crate) key: ExactKey,
    pub(crate) similarity: f32,
}

struct Partition {
    tenant: Box<str>,
    index: VectorIndex,
    keys: HashMap<EntryId, ExactKey>,
    dropped: bool,
}

type Shared = Arc<RwLock<Partition>>;

pub(crate) struct Partitions {
    map: RwLock<HashMap<PartitionKey, Shared>>,
    rotations: Mutex<HashMap<usize, Arc<Rotation>>>,
    config: IndexConfig,
}

impl Partitions {
    pub(crate) fn new(config: IndexConfig) -> Self {
        Partitions {
            map: RwLock::new(HashMap::new()),
            rotations: Mutex::new(HashMap::new()),
            config,
        }
    }

    pub(crate) fn insert(
        &self,
        tenant: &str,
        partition: PartitionKey,
        id: EntryId,
        key: ExactKey,
        vector: &[f32],
    ) -> Result<(), PartitionError> {
        loop {
            let shared = self.get_or_create(tenant, partition, vector.len());
            let mut p = write(&shared);
            if p.dropped {
                drop(p);
                self.unlink(partition, &shared);
                continue;
            }
            if &*p.tenant != tenant {
                return Err(PartitionError::TenantMismatch { partition });
            }
            if let Err(e) = p.index.insert(id, vector) {
                // a partition created for a refused vector must not linger empty
                if p.index.is_empty() {
                    p.dropped = true;
                    drop(p);
                    self.unlink(partition, &shared);
                }
                return Err(e.into());
            }
            p.keys.insert(id, key);
            return Ok(());
        }
    }

    /// The best match at or above `threshold` in `tenant`'s `partition`.
    pub(crate) fn search(
        &self,
        tenant: &str,
        partition: PartitionKey,
        vector: &[f32],
        threshold: f32,
    ) -> Option<Found> {
        let shared = read(&self.map).get(&partition).cloned()?;
        let p = read(&shared);
        if &*p.tenant != tenant {
            return None;
        }
        let (id, similarity) = p.index.search(vector, threshold)?;
        let key = *p.keys.get(&id)?;
        Some(Found {
            id,
            key,
            similarity,
        })
    }

    /// Removes an entry (called when it leaves the cache for any reason).
    pub(crate) fn remove(&self, partition: PartitionKey, id: EntryId) {
        let Some(shared) = read(&self.map).get(&partition).cloned() else {
            return;
        };
        let mut p = write(&shared);
        p.keys.remove(&id);
        p.index.remove(id);
        if p.index.is_empty() && !p.dropped {
            p.dropped = true;
            drop(p);
            self.unlink(partition, &shared);
        }
    }

    pub(crate) fn clear(&self) {
        let mut map = write(&self.map);
        for shared in map.values() {
            write(shared).dropped = true;
        }
        map.clear();
    }

    pub(crate) fn count(&self) -> usize {
        read(&self.map).len()
    }

    /// Entries per partition, for diagnostics and tests.
    pub(crate) fn sizes(&self) -> Vec<usize> {
        let shared: Vec<Shared> = read(&self.map).values().cloned().collect();
        shared.iter().map(|p| read(p).index.len()).collect()
    }

    fn get_or_create(&self, tenant: &str, partition: PartitionKey, dims: usize) -> Shared {
        if let Some(shared) = read(&self.map).get(&partition) {
            return Arc::clone(shared);
        }
        let rotation = self.rotation(dims);
        let mut map = write(&self.map);
        let shared = map.entry(partition).or_insert_with(|| {
            Arc::new(RwLock::new(Partition {
                tenant: tenant.into(),
                index: VectorIndex::with_rotation(rotation, self.config.clone()),
                keys: HashMap::new(),
                dropped: false,
            }))
        });
        Arc::clone(shared)
    }

    /// Removes `shared` from the map if it is still the partition's entry there.
    fn unlink(&self, partition: PartitionKey, shared: &Shared) {
        let mut map = write(&self.map);
        if map
            .get(&partition)
            .is_some_and(|current| Arc::ptr_eq(current, shared))
        {
            map.remove(&partition);
        }
    }

    /// One rotation per dimension count, shared by all partitions of that size.
    fn rotation(&self, dims: usize) -> Arc<Rotation> {
        let mut rotations = self
            .rotations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(rotations.entry(dims).or_insert_with(|| {
            Arc::new(Rotation::new(dims, self.config.code_bits, self.config.seed))
        }))
    }
}

// A panic while a lock is held can only come from a broken invariant in this
// crate; the data it guards stays usable, so later callers carry on.
fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}
