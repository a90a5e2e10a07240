# BlueZoo 1.0.2 launcher with compatibility fixes for BlueZ-shaped clients (bluer, btleplug).
# Usage: python3 bluezoo-patched.py [normal bluezoo args...]
#  1. Device1.ManufacturerData: upstream declares a{sv}; BlueZ (and bluer/btleplug) use a{qv}.
#     With a{sv}, an advertisement carrying manufacturer data makes Device1 Get/GetAll and
#     ObjectManager.GetManagedObjects fail for the whole service.
#  2. Remote GattCharacteristic1.AcquireWrite/AcquireNotify forward the caller's options
#     unchanged; real BlueZ always passes "device", "mtu", "link" to the GATT server, and
#     bluer's server rejects the call without them (InvalidArgs).
#  3. Device1.Disconnect leaves the GATT link objects exported, so a second Connect fails with
#     EEXIST (errno 17); Connect on an already-connected device fails the same way. BlueZ
#     also closes the sockets it acquired from a GATT server when the link goes; BlueZoo keeps
#     them open, so the server never hears that its central left.
#  4. A client's WriteValue on a characteristic the server offers to AcquireWrite acquires a
#     new socket for every write (the server's WriteAcquired stays false, as bluer's does):
#     BlueZ acquires once per link and writes each value through that socket.
import asyncio
import sys

from bluezoo.bluezoo import main
from bluezoo.device import Device
from bluezoo.exceptions import DBusBluezFailedError
from bluezoo.gatt.characteristic import GattCharacteristicClientLink as Link

# 1
Device.__dict__["ManufacturerData"].property_signature = "a{qv}"


# 2
def _forward_with_options(name):
    async def method(self, options):
        options = self._GattCharacteristicClientLink__prepare_options(dict(options))
        return await getattr(self.client, name)(options)
    return method


for _name in ("AcquireWrite", "AcquireNotify"):
    Link.__dict__[_name].original_method = _forward_with_options(_name)

# 3
_connect, _disconnect = Device.connect, Device.disconnect


async def _connect_once(self, uuid=None):
    if self.connected and self.services:
        return
    await _connect(self, uuid)


def _close_acquired(link):
    for name in ("f_read", "f_write"):
        f = getattr(link, name, None)
        if f is None:
            continue
        if name == "f_read":
            asyncio.get_running_loop().remove_reader(f)
        f.close()
        setattr(link, name, None)


async def _disconnect_and_unlink(self, uuid=None):
    await _disconnect(self, uuid)
    for link in self.services.values():
        _close_acquired(link)
        self.peer_adapter.mock.remove_object(link)
    self.services.clear()
    await self.ServicesResolved.set_async(False)
    if self.peer is not None:
        await self.peer.ServicesResolved.set_async(False)


Device.connect, Device.disconnect = _connect_once, _disconnect_and_unlink

# 4
_write_value = Link.__dict__["WriteValue"].original_method


async def _write_through_acquired(self, value, options):
    if self.f_write is None:
        return await _write_value(self, value, options)
    try:
        self.f_write.write(value)
    except OSError:
        # The server closed its end: this write fails, the next one acquires afresh.
        self.f_write.close()
        self.f_write = None
        raise DBusBluezFailedError("the server closed its end of the characteristic")


Link.__dict__["WriteValue"].original_method = _write_through_acquired

sys.exit(main())
