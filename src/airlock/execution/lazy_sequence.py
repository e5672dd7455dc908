"""The values of a mapped task, as a sequence read from the supervisor only when needed.

A task downstream of a mapped task (a "reduce") receives this instead of a list: ``len()``
asks for the count alone, an index or a slice fetches just those values, and iterating fetches
every value in one round trip and keeps them. Values are in map index order; mapped task
instances that stored no value (skipped, failed, returned None) are left out, as in Airflow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, overload

from airlock.execution import xcom_values
from airlock.execution.protocol import GetXComSequence, XComSequenceResult

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airlock.execution.comms import SupervisorChannel


class LazyXComSequence(Sequence[Any]):
    """The values task ``task_id`` stored under ``key`` in its mapped task instances.

    Args:
        channel: the runner's channel to its supervisor.
        task_id: the mapped task.
        key: the XCom key (the return value by default).
    """

    def __init__(self, channel: SupervisorChannel, task_id: str, key: str = "return_value") -> None:
        self._channel = channel
        self.task_id = task_id
        self.key = key
        self._length: int | None = None
        self._values: list[Any] | None = None

    def __repr__(self) -> str:
        size = "?" if self._length is None else str(self._length)
        return f"LazyXComSequence(task_id={self.task_id!r}, key={self.key!r}, length={size})"

    def __len__(self) -> int:
        if self._length is None:
            self._length = self._fetch(stop=0).length
        return self._length

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...

    def __getitem__(self, index: int | slice) -> Any:
        if self._values is not None:
            return self._values[index]
        if isinstance(index, slice):
            result = self._fetch(start=index.start, stop=index.stop, step=index.step)
            return [xcom_values.deserialize(value) for value in result.values]
        if not isinstance(index, int):
            raise TypeError(
                f"sequence indices must be integers or slices, not {type(index).__name__}"
            )
        stop = None if index == -1 else index + 1
        result = self._fetch(start=index, stop=stop)
        if not result.values:
            raise IndexError(
                f"index {index} is out of range: {self.task_id!r} has {result.length} values"
            )
        return xcom_values.deserialize(result.values[0])

    def __iter__(self) -> Iterator[Any]:
        return iter(self.values())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return self.values() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # compares by value, like a list

    def values(self) -> list[Any]:
        """Return every value as a list, fetching them all in one round trip the first time."""
        if self._values is None:
            result = self._fetch()
            self._values = [xcom_values.deserialize(value) for value in result.values]
            self._length = result.length
        return self._values

    def _fetch(
        self, *, start: int | None = None, stop: int | None = None, step: int | None = None
    ) -> XComSequenceResult:
        request = GetXComSequence(
            task_id=self.task_id, key=self.key, start=start, stop=stop, step=step
        )
        result = self._channel.call(request, XComSequenceResult)
        self._length = result.length
        return result
