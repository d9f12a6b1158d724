// Optional private networking: a virtual network for the Container Apps environment, private endpoints for Redis, the
// dataset storage and Key Vault, and the private DNS zones that resolve their names to those endpoints inside it.
param prefix string
param location string
param tags object

@description('Address space of the virtual network.')
param addressPrefix string = '10.40.0.0/16'

var zones = {
  redis: 'privatelink.redis.azure.net'
  file: 'privatelink.file.${environment().suffixes.storage}'
  vault: 'privatelink.vaultcore.azure.net'
}

resource network 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: '${prefix}-vnet'
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: [addressPrefix] }
    subnets: [
      {
        // A workload-profiles environment needs a /27 or larger subnet delegated to it.
        name: 'apps'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 23, 0)
          delegations: [{ name: 'containerapps', properties: { serviceName: 'Microsoft.App/environments' } }]
        }
      }
      {
        name: 'endpoints'
        properties: { addressPrefix: cidrSubnet(addressPrefix, 24, 2) }
      }
    ]
  }
}

resource dnsZones 'Microsoft.Network/privateDnsZones@2024-06-01' = [for zone in items(zones): {
  name: zone.value
  location: 'global'
  tags: tags
}]

resource dnsLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [for (zone, i) in items(zones): {
  parent: dnsZones[i]
  name: '${prefix}-vnet'
  location: 'global'
  properties: { virtualNetwork: { id: network.id }, registrationEnabled: false }
}]

output appsSubnetId string = network.properties.subnets[0].id
output endpointsSubnetId string = network.properties.subnets[1].id
output dnsZoneIds object = toObject(items(zones), zone => zone.key, zone => resourceId('Microsoft.Network/privateDnsZones', zone.value))
