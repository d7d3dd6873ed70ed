// Entry of the CNI plugin bundle (dist/cni-plugin.cjs), run by the `fleetnet` and `fleetnet-ipam`
// executables that `fleetnet cni install` writes into the CNI plugin directory.
import { pluginMain } from './plugin.js';

void pluginMain();
