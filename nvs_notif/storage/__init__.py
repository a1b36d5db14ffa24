"""Storage drivers: where notifications, spans, events and meters are kept."""
from nvs_notif.storage.base import Batch, Reject, Store, StoreError, WriteResult, get_store

__all__ = ['Batch', 'Reject', 'Store', 'StoreError', 'WriteResult', 'get_store']
