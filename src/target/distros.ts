/** The distributions `kelp target fetch` knows, by the metapackage that tracks each one's current kernel. */
export const KERNEL_METAPACKAGES: Readonly<Record<string, string>> = { debian: 'linux-image-amd64' };

export const SUPPORTED_DISTROS = Object.keys(KERNEL_METAPACKAGES);
